"""Which listed files a scan tracks, and as what: the global pattern rules (pure).

- `excludePatternRules` and `excludedFiles` remove files; `includePatternRules`, when not
  empty, restrict tracking to the files they match. Exclusion wins over inclusion.
- A rule matches a file when it matches the file's `_id` or one of its folders (`/a/`,
  `/a/b/`), so excluding `cache/` or `/tmp/**` removes everything below those folders, as
  in rsync. `excludedFiles` holds file names or globs on names (`Thumbs.db`, `*.tmp`).
- With `enableDiscoveryPackages`, a folder that directly contains a tracked file matching
  `packagePatternRules` (for example `*.exr`) is tracked as a package (`/a/b/`) made of
  every regular file directly inside it; those files are not tracked on their own. A folder
  the tracker already knows as a package is one on every volume, whatever its switches.
Syntax of the globs: see `reconciler.core.patterns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.core.kinds import GlobalParameters
from reconciler.core.patterns import Glob, any_match, parse_rules


def folder_of(file_id: str) -> str:
    """`/a/b/c.exr` -> `/a/b/` (the package id of the folder holding the file)."""
    return file_id[: file_id.rfind("/") + 1]


def ancestors(folder: str) -> list[str]:
    """`/a/b/` -> [`/a/`, `/a/b/`] (the root `/` itself is not a folder id)."""
    out: list[str] = []
    index = folder.find("/", 1)
    while index != -1:
        out.append(folder[: index + 1])
        index = folder.find("/", index + 1)
    return out


@dataclass(frozen=True)
class ScanRules:
    include: tuple[Glob, ...] = ()
    exclude: tuple[Glob, ...] = ()
    packages: tuple[Glob, ...] = ()
    packages_enabled: bool = False
    # packages already in the tracker: recognised on every volume, discovery on or off,
    # so a delivered package's files are never taken for new files of their own
    known_packages: frozenset[str] = frozenset()
    # verdicts per folder: siblings share them, and a sorted listing visits them in runs
    _folder_cache: dict[tuple[str, str], bool] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_globals(
        cls,
        values: GlobalParameters,
        *,
        packages_enabled: bool,
        known_packages: frozenset[str] = frozenset(),
    ) -> ScanRules:
        return cls(
            include=parse_rules(values.include_pattern_rules),
            exclude=parse_rules(values.exclude_pattern_rules) + parse_rules(values.excluded_files),
            packages=parse_rules(values.package_pattern_rules),
            packages_enabled=packages_enabled,
            known_packages=known_packages,
        )

    @property
    def filters(self) -> bool:
        """Whether any include or exclude rule is set (else every file is tracked)."""
        return bool(self.include or self.exclude)

    @property
    def folds_packages(self) -> bool:
        """Whether some folder may be a package (then the listing needs two passes)."""
        return (self.packages_enabled and bool(self.packages)) or bool(self.known_packages)

    def _folders_match(self, which: str, globs: tuple[Glob, ...], folder: str) -> bool:
        key = (which, folder)
        verdict = self._folder_cache.get(key)
        if verdict is None:
            if len(self._folder_cache) > 4096:
                self._folder_cache.clear()
            verdict = any(any_match(globs, f) for f in ancestors(folder))
            self._folder_cache[key] = verdict
        return verdict

    def _excluded(self, path_id: str) -> bool:
        if not self.exclude:
            return False
        return any_match(self.exclude, path_id) or self._folders_match(
            "x", self.exclude, folder_of(path_id.rstrip("/"))
        )

    def tracks(self, file_id: str) -> bool:
        """Whether a file (not a package) is in the scan's scope."""
        if self._excluded(file_id):
            return False
        if not self.include:
            return True
        return any_match(self.include, file_id) or self._folders_match(
            "i", self.include, folder_of(file_id)
        )

    def tracks_package(self, package_id: str) -> bool:
        """Whether a package id is in scope (include rules apply to the files inside).

        The root is never a package: `/` is not a file id."""
        return package_id != "/" and not self._excluded(package_id)

    def in_scope(self, node_id: str) -> bool:
        """For tracked ids: should this scan judge them (new, modified, deleted)?"""
        if node_id.endswith("/"):
            return self.tracks_package(node_id)
        return self.tracks(node_id)

    def makes_package(self, file_id: str) -> bool:
        """A tracked file that turns its folder into a package."""
        return self.packages_enabled and bool(self.packages) and any_match(self.packages, file_id)
