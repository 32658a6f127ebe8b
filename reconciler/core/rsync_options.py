"""Which user rsync options (`rsync_args`) may reach an rsync command: the allow-list.

Purely computational. `rsync_args` is written by manifest authors and, through the API, by
admins; it ends up in rsync commands run on the hub host as the reconciler's user. An option
is admitted only if it cannot run a command (`--rsync-path`, `-e`, `-M`), read or write
outside the volume roots (`--log-file`, `--temp-dir`, `--files-from`, `--link-dest`...),
follow links out of a volume (`-L`, `--copy-unsafe-links`, `-K`), nor undo what the
reconciler relies on for correctness (its own `--files-from`, `--partial-dir`, `--backup`,
`--out-format`, `--protect-args`; what arrives and how it is reported). Everything else is
refused, by name, at validation (`reconciler.core.manifest_schema`) and again when the command is
built (`reconciler.transport.options.merge_options`), for values that reached the store by
another path. docs/security.md lists the options and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Long name -> takes a value. Short letters below map onto these names.
ALLOWED_LONG: dict[str, bool] = {
    "bwlimit": True,  # bandwidth only
    "compress": False,
    "no-compress": False,
    "compress-level": True,
    "zl": True,
    "compress-choice": True,
    "zc": True,
    "skip-compress": True,
    "checksum": False,  # a stricter quick check
    "checksum-choice": True,
    "cc": True,
    "whole-file": False,
    "no-whole-file": False,
    "chmod": True,  # permission bits of what is written inside the volume
    "no-perms": False,
    "executability": False,
    "owner": False,
    "no-owner": False,
    "group": False,
    "no-group": False,
    "numeric-ids": False,
    "omit-dir-times": False,
    "omit-link-times": False,
    "timeout": True,  # I/O timeout of this transfer
    "partial": False,  # implied by the reconciler's --partial-dir: no effect
    "delay-updates": False,  # holds updates in the reconciler's partial dir, renames at the end
    "sparse": False,
    "preallocate": False,
    "fsync": False,
    "safe-links": False,  # only ever skips links pointing out of the tree
    "stats": False,  # a summary after our itemized lines; never mistaken for them
}
ALLOWED_SHORT: dict[str, str] = {
    "z": "compress",
    "c": "checksum",
    "W": "whole-file",
    "E": "executability",
    "o": "owner",
    "g": "group",
    "O": "omit-dir-times",
    "J": "omit-link-times",
    "S": "sparse",
}

# Why some well-known options are refused (the rest: "not in the allow-list").
_RUNS = "can run a command"
_OUTSIDE = "reads or writes outside the volume"
_LINKS = "follows links out of the volume"
_OWN = "set by the reconciler itself"
_OUTCOME = "changes what arrives or how arrival is verified"
_REASONS: dict[str, str] = {
    **dict.fromkeys(("rsync-path", "rsh", "remote-option", "daemon", "config"), _RUNS),
    **dict.fromkeys(
        (
            "log-file", "files-from", "exclude-from", "include-from", "backup-dir", "temp-dir",
            "partial-dir", "write-batch", "only-write-batch", "read-batch", "password-file",
            "compare-dest", "copy-dest", "link-dest", "copy-devices", "write-devices",
        ),
        _OUTSIDE,
    ),
    **dict.fromkeys(
        ("copy-links", "copy-unsafe-links", "keep-dirlinks", "copy-dirlinks", "munge-links"),
        _LINKS,
    ),
    **dict.fromkeys(
        (
            "protect-args", "secluded-args", "no-protect-args", "no-secluded-args", "old-args",
            "out-format", "log-format", "from0", "perms", "times", "links", "dirs", "backup",
            "recursive", "ipv4", "ipv6",
        ),
        _OWN,
    ),
    "archive": "implies -r and -D (device files): name the options you need instead",
    "mkpath": "would create a missing volume root (an unmounted disk must stay empty)",
    **dict.fromkeys(
        (
            "dry-run", "list-only", "inplace", "append", "append-verify", "update", "existing",
            "ignore-existing", "size-only", "modify-window", "remove-source-files", "delete",
            "del", "delete-before", "delete-during", "delete-delay", "delete-after",
            "delete-excluded", "delete-missing-args", "max-size", "min-size", "max-delete",
            "exclude", "include", "filter", "cvs-exclude", "info", "progress", "quiet",
            "human-readable", "iconv", "8-bit-output", "no-times", "no-relative",
        ),
        _OUTCOME,
    ),
}  # fmt: skip
_SHORT_NAMES = {
    "e": "rsh", "M": "remote-option", "L": "copy-links", "K": "keep-dirlinks",
    "k": "copy-dirlinks", "T": "temp-dir", "n": "dry-run", "u": "update", "P": "progress",
    "q": "quiet", "h": "human-readable", "a": "archive", "r": "recursive", "4": "ipv4",
    "6": "ipv6", "s": "protect-args", "8": "8-bit-output", "@": "modify-window",
    "F": "filter", "f": "filter", "C": "cvs-exclude", "B": "block-size", "x": "one-file-system",
    "p": "perms", "t": "times", "l": "links", "d": "dirs", "b": "backup",
}  # fmt: skip
# Refused options whose value may be the next token: dropped with them, not seen as paths.
_LONG_WITH_VALUE = frozenset(
    {
        "files-from", "partial-dir", "backup-dir", "out-format", "log-format", "info", "rsh",
        "exclude", "include", "filter", "exclude-from", "include-from", "max-size", "min-size",
        "max-delete", "write-batch", "only-write-batch", "read-batch", "temp-dir", "compare-dest",
        "copy-dest", "link-dest", "suffix", "chown", "block-size", "rsync-path",
        "modify-window", "iconv", "usermap", "groupmap", "remote-option", "debug", "port",
        "sockopts", "outbuf", "password-file", "log-file", "log-file-format", "checksum-seed",
        "max-alloc", "stop-after", "stop-at", "copy-as", "address", "contimeout", "config",
    }
)  # fmt: skip
_SHORT_WITH_VALUE = frozenset("eTBfM@")
# ipv4/ipv6 are refused because rsync appends `-4`/`-6` to the ssh command line after the
# reconciler's `--` (end of ssh options), where ssh would take it for the host.


@dataclass(frozen=True)
class Refused:
    option: str  # as named to the user: `--rsync-path`, `-L`, or the bare word
    tokens: tuple[str, ...]  # what is dropped from the command line (option and its value)
    reason: str

    def describe(self) -> str:
        return f'rsync option "{self.option}" is not allowed: {self.reason}'


@dataclass(frozen=True)
class Screened:
    kept: tuple[str, ...]
    refused: tuple[Refused, ...]


def _reason(name: str) -> str:
    return _REASONS.get(name, "not in the allow-list (see docs/security.md)")


def _long(tokens: Sequence[str], i: int) -> tuple[int, Refused | None]:
    """How many tokens the long option at `i` spans, and why it is refused (or None)."""
    name, has_value, _ = tokens[i][2:].partition("=")
    if name in ALLOWED_LONG:
        takes = ALLOWED_LONG[name]
        span = 2 if takes and not has_value else 1
        if takes and span == 2 and i + 1 >= len(tokens):
            return 1, Refused(f"--{name}", (tokens[i],), "needs a value")
        if not takes and has_value:
            return 1, Refused(f"--{name}", (tokens[i],), "takes no value")
        return span, None
    span = 2 if name in _LONG_WITH_VALUE and not has_value and i + 1 < len(tokens) else 1
    reason = "end of options: what follows would be paths" if not name else _reason(name)
    return span, Refused(f"--{name}", tuple(tokens[i : i + span]), reason)


def _short(tokens: Sequence[str], i: int) -> tuple[int, Refused | None]:
    letters = tokens[i][1:]
    for pos, letter in enumerate(letters):
        if letter in ALLOWED_SHORT:
            continue
        name = _SHORT_NAMES.get(letter, "")
        at_end = pos == len(letters) - 1
        span = 2 if letter in _SHORT_WITH_VALUE and at_end and i + 1 < len(tokens) else 1
        reason = _reason(name) if name else "not in the allow-list (see docs/security.md)"
        return span, Refused(f"-{letter}", tuple(tokens[i : i + span]), reason)
    return 1, None


def screen(tokens: Sequence[str]) -> Screened:
    """Split shell-split `rsync_args` into the allowed tokens and the refused options."""
    kept: list[str] = []
    refused: list[Refused] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--"):
            span, problem = _long(tokens, i)
        elif token.startswith("-") and len(token) > 1:
            span, problem = _short(tokens, i)
        else:
            span, problem = 1, Refused(token, (token,), "a bare word would be a source or path")
        if problem is None:
            kept += tokens[i : i + span]
        else:
            refused.append(problem)
        i += span
    return Screened(tuple(kept), tuple(refused))
