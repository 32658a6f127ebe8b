"""Where a site is: the volume and hub URLs every command is built from, parsed and checked.

Purely computational. `ssh://[user@]host[:port]/abs/root/` names a root on another host,
reached over SSH from the hub host; `file:///abs/root/` and `/abs/root/` a root on the hub
host itself (architecture.md#topology). Anything a command line could read as an option, or split,
is refused here (`UnsafeUrl`), and the commands themselves end options with `--` as a second line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


class InvalidUrl(ValueError):
    pass


class UnsafeUrl(InvalidUrl):
    """Well-formed, but a part could be read as an option or split by a command line."""


@dataclass(frozen=True)
class SiteUrl:
    """A volume or hub location: `ssh://[user@]host[:port]/abs/path/`, `file:///abs/`, `/abs/`."""

    path: str  # absolute, always ending with '/'
    host: str | None = None
    user: str | None = None
    port: int | None = None

    @property
    def local(self) -> bool:
        return self.host is None

    def rsync_location(self) -> str:
        """The root as rsync names it (`host:/path/` or `/path/`).

        No `user@`: the user goes to ssh as `-l USER` in `SshSettings.rsync_rsh`, before the
        `--` that ends ssh's options (rsync would append its own `-l` after that `--`)."""
        return f"{self.host}:{self.path}" if self.host else self.path


# A host name, an IPv4 address or an IPv6 literal (urlsplit drops its brackets).
_HOST_RE = re.compile(r"[A-Za-z0-9_.:%-]+")


def _control(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _check_login(user: str | None, host: str) -> None:
    """Refuse what ssh or rsync could read as an option, or split: `-oProxyCommand=...`."""
    for what, value in (("user", user), ("host", host)):
        if value is None:
            continue
        if value.startswith("-"):
            raise UnsafeUrl(f'the {what} must not start with "-"')
        if not value or any(c.isspace() for c in value) or _control(value):
            raise UnsafeUrl(f"the {what} must not be empty or contain whitespace")
    if not _HOST_RE.fullmatch(host):
        raise UnsafeUrl(f"the host {host!r} is not a host name or an IP address")


def parse_url(url: str) -> SiteUrl:
    """Parse and check a volume or hub URL (every command is built from its result)."""
    if _control(url):
        # urlsplit would silently drop tabs and newlines; refuse every control character
        raise UnsafeUrl("a URL must not contain control characters")
    if url.startswith("/"):
        return SiteUrl(path=url.rstrip("/") + "/")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise InvalidUrl(f"not a URL: {url!r}: {exc}") from exc
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise InvalidUrl(f"file URL must be file:///absolute/path/: {url!r}")
        return SiteUrl(path=unquote(parts.path).rstrip("/") + "/")
    if parts.scheme == "ssh":
        if not parts.hostname or not parts.path.startswith("/"):
            raise InvalidUrl(f"ssh URL must be ssh://[user@]host[:port]/absolute/path/: {url!r}")
        try:
            port = parts.port
        except ValueError as exc:
            raise InvalidUrl(f"bad port in {url!r}") from exc
        _check_login(parts.username, parts.hostname)
        return SiteUrl(
            path=unquote(parts.path).rstrip("/") + "/",
            host=parts.hostname,
            user=parts.username,
            port=port,
        )
    raise InvalidUrl(
        f"unsupported URL {url!r}: use ssh://[user@]host[:port]/path/, file:///path/ or /path/"
    )


def on_hub_host(hub: SiteUrl) -> SiteUrl:
    """The hub's root as seen from the hub host, where commands run: a local path."""
    return SiteUrl(path=hub.path)
