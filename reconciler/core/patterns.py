"""rsync-style glob patterns, shared by SyncTargets (`paths`, `exclude`) and scan rules.

Syntax (documented in the README):
- a pattern starting with `/` is anchored at the project root (`/renders/**`);
  otherwise it matches at any depth, against the trailing components (`*.exr`, `cache/`);
- `*` matches within one path component, `**` matches across components (any depth, also
  none), `?` one character other than `/`, `[...]` a character class;
- a pattern ending in `/` matches only folders (package ids such as `/seq/sh010/`);
- a pattern that ends in `/**` also matches the folder itself as a package (`/a/**` matches `/a/`).
Rule strings (global `includePatternRules` etc.) hold one pattern per line or comma-separated;
blank lines and lines starting with `#` are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Glob:
    pattern: str
    regex: re.Pattern[str]
    dir_only: bool

    def matches(self, path: str) -> bool:
        """Match a file `_id` (or a package id with trailing `/`)."""
        is_dir = path.endswith("/")
        if self.dir_only and not is_dir:
            return False
        subject = path.rstrip("/") if path != "/" else path
        return self.regex.fullmatch(subject) is not None


def _translate(body: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "*":
            if body.startswith("**", i):
                # '/**/' may match a single '/', '**' anything at all
                if body.startswith("**/", i):
                    out.append("(?:.*/)?")
                    i += 3
                    continue
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = body.find("]", i + 2 if body[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                inner = body[i + 1 : end]
                if inner.startswith("!"):
                    inner = "^" + inner[1:]
                out.append("[" + inner.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


@lru_cache(maxsize=4096)
def compile_glob(pattern: str) -> Glob:
    pattern = pattern.strip()
    if not pattern:
        raise ValueError("empty pattern")
    dir_only = pattern.endswith("/") and pattern != "/"
    body = pattern.rstrip("/") if dir_only else pattern
    anchored = body.startswith("/")
    # '/a/**' also matches the folder '/a/' itself (a package id)
    core = _translate(body[:-3]) + "(?:/.*)?" if body.endswith("/**") else _translate(body)
    regex = core if anchored else "/(?:.*/)?" + core
    return Glob(pattern=pattern, regex=re.compile(regex, re.DOTALL), dir_only=dir_only)


def parse_rules(rules: str | Iterable[str] | None) -> tuple[Glob, ...]:
    """Parse a rule string or list into compiled globs (see module docstring)."""
    if rules is None:
        return ()
    items: list[str] = []
    if isinstance(rules, str):
        for line in rules.replace(",", "\n").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                items.append(line)
    else:
        items = [str(r).strip() for r in rules if str(r).strip()]
    return tuple(compile_glob(p) for p in items)


def any_match(globs: Iterable[Glob], path: str) -> bool:
    return any(g.matches(path) for g in globs)


def literal_prefix(glob: Glob) -> str:
    """A prefix every `_id` this glob matches starts with ("" when it can match anywhere).

    Lets a store read only the id range a pattern can reach (`/renders/**` -> `/renders`:
    the folder's package id `/renders/` and the file `/renders` match it too).
    """
    if not glob.pattern.startswith("/"):
        return ""
    cut = min((i for i, c in enumerate(glob.pattern) if c in "*?["), default=len(glob.pattern))
    prefix = glob.pattern[:cut]
    return prefix[:-1] if prefix.endswith("/") and len(prefix) > 1 else prefix


def any_matcher(globs: Iterable[Glob]) -> Callable[[str], bool]:
    """`any_match(globs, path)` as one regex per kind of glob (files, folders only): for
    testing many ids against many patterns."""
    globs = tuple(globs)

    def combined(dir_only: bool) -> re.Pattern[str] | None:
        parts = [g.regex.pattern for g in globs if g.dir_only is dir_only]
        return re.compile("|".join(f"(?:{p})" for p in parts), re.DOTALL) if parts else None

    any_path, folders = combined(False), combined(True)

    def matches(path: str) -> bool:
        subject = path.rstrip("/") if path != "/" else path
        if any_path is not None and any_path.fullmatch(subject):
            return True
        return folders is not None and path.endswith("/") and bool(folders.fullmatch(subject))

    return matches
