"""Where commands run: the hub host, locally or through Fabric, and SSH to the volumes.

rsync and volume listings always run on the hub host (SPEC §2). `HubShell` is the one
protocol for that, with two implementations side by side: `LocalShell` (the hub directory
is on the reconciler host) and `FabricShell` (the hub is `ssh://`, one kept-open Fabric
connection with TCP_NODELAY). Commands are argument vectors; a shell only ever sees them
joined with `shlex.join`, so user paths are never interpreted by a shell.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import threading
from collections.abc import Generator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
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


@dataclass(frozen=True)
class SshSettings:
    """How the hub host reaches volumes: key and known_hosts paths on the hub host."""

    identity_file: str = ""
    known_hosts: str = ""
    control_dir: str = ""  # OpenSSH ControlMaster sockets (connection reuse); "" = off

    def options(self, port: int | None = None) -> list[str]:
        opts = [
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "ServerAliveInterval=15",
        ]
        if self.identity_file:
            opts += ["-i", self.identity_file, "-o", "IdentitiesOnly=yes"]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        if self.control_dir:
            opts += [
                "-o",
                "ControlMaster=auto",
                "-o",
                f"ControlPath={self.control_dir}/%C",
                "-o",
                "ControlPersist=60",
            ]
        if port:
            opts += ["-p", str(port)]
        return opts

    def _login(self, url: SiteUrl) -> list[str]:
        return [*self.options(url.port), *(["-l", url.user] if url.user else [])]

    def ssh_argv(self, url: SiteUrl, *extra: str) -> list[str]:
        """`ssh ... -- host` (append a remote command, already shell-quoted).

        `--` ends ssh's options: neither the host nor the command that follows can be read
        as one (ssh otherwise parses options again after the host)."""
        return ["ssh", *self._login(url), *extra, "--", str(url.host)]

    def rsync_rsh(self, url: SiteUrl) -> str:
        """The value of rsync's `-e`, ending with `--`: rsync appends the host after it.

        rsync splits this string itself (quotes, no shell); locations carry no `user@`."""
        return shlex.join(["ssh", *self._login(url), "--"])


@dataclass(frozen=True)
class Completed:
    exit_code: int
    stdout: bytes
    stderr: bytes

    @property
    def stderr_text(self) -> str:
        return self.stderr.decode("utf-8", "replace")


class HubShell(Protocol):
    """Runs argument vectors on the hub host."""

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Completed: ...

    def stream(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None
    ) -> Generator[bytes, None, None]:
        """Yield stdout in chunks; raise `CommandFailed` at the end if it exited non-zero.

        Closing the generator before the end stops the command."""
        ...

    def close(self) -> None: ...


class CommandFailed(RuntimeError):
    def __init__(self, exit_code: int, stderr: str) -> None:
        super().__init__(f"exit {exit_code}: {stderr.strip()[:500]}")
        self.exit_code = exit_code
        self.stderr = stderr


class LocalShell:
    """The hub is on this host: run commands as local processes."""

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Completed:
        proc = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            env={**os.environ, **(env or {})},
            timeout=timeout,
            check=False,
        )
        return Completed(proc.returncode, proc.stdout, proc.stderr)

    def stream(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None
    ) -> Generator[bytes, None, None]:
        proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # its own process group: stopped as a whole
        )
        assert proc.stdout is not None and proc.stderr is not None
        err_chunks: list[bytes] = []
        reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))  # type: ignore[union-attr]
        reader.start()
        done = False
        try:
            while chunk := proc.stdout.read(1 << 16):
                yield chunk
            done = True
        finally:
            if not done:
                # the consumer stopped early: stop the whole group, or a child (the listing's
                # `sort`) could run on, or block on the full pipe, with stderr held open
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.stdout.close()
            code = proc.wait()
            reader.join()
        if code != 0:
            raise CommandFailed(code, b"".join(err_chunks).decode("utf-8", "replace"))

    def close(self) -> None:
        return None


class FabricShell:
    """The hub is `ssh://`: one kept-open Fabric connection to the hub host."""

    def __init__(self, url: SiteUrl, ssh: SshSettings) -> None:
        from fabric import Connection  # imported here: only remote hubs need paramiko

        connect_kwargs: dict[str, Any] = {"look_for_keys": not ssh.identity_file}
        if ssh.identity_file:
            connect_kwargs["key_filename"] = [ssh.identity_file]
        self._conn = Connection(
            host=str(url.host),
            user=url.user,
            port=url.port or 22,
            connect_kwargs=connect_kwargs,
            connect_timeout=10,
        )
        self._known_hosts = ssh.known_hosts
        self._lock = threading.Lock()

    def _client(self) -> Any:
        with self._lock:
            if not self._conn.is_connected:
                import paramiko

                client = self._conn.client
                client.set_missing_host_key_policy(paramiko.RejectPolicy())
                if self._known_hosts:
                    client.load_host_keys(self._known_hosts)
                self._conn.open()
                transport = self._conn.client.get_transport()
                if transport is not None and transport.sock is not None:
                    # paramiko leaves Nagle on: ~40 ms per command otherwise (SPEC §10)
                    transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return self._conn.client

    @staticmethod
    def _command(argv: Sequence[str], env: Mapping[str, str] | None) -> str:
        prefix = ["env", *(f"{k}={v}" for k, v in (env or {}).items())] if env else []
        return shlex.join([*prefix, *argv])

    def run(
        self,
        argv: Sequence[str],
        *,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Completed:
        client = self._client()
        chan_in, chan_out, chan_err = client.exec_command(self._command(argv, env), timeout=timeout)

        def feed() -> None:
            # A writer thread: a big --files-from list must not block while the remote
            # command fills its stdout/stderr windows (a deadlock with a sequential write).
            try:
                if stdin is not None:
                    chan_in.write(stdin)
            except OSError:
                pass  # the command exited early; its exit status tells why
            finally:
                chan_in.channel.shutdown_write()

        writer = threading.Thread(target=feed, daemon=True)
        writer.start()
        err_parts: list[bytes] = []
        reader = threading.Thread(target=lambda: err_parts.append(chan_err.read()), daemon=True)
        reader.start()
        out = chan_out.read()
        code = chan_out.channel.recv_exit_status()
        writer.join()
        reader.join()
        return Completed(code, out, b"".join(err_parts))

    def stream(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None
    ) -> Generator[bytes, None, None]:
        client = self._client()
        chan_in, chan_out, chan_err = client.exec_command(self._command(argv, env))
        chan_in.channel.shutdown_write()
        done = False
        try:
            while chunk := chan_out.read(1 << 16):
                yield chunk
            done = True
        finally:
            if not done:  # the consumer stopped early: drop the channel
                chan_out.channel.close()
        code = chan_out.channel.recv_exit_status()
        if code != 0:
            raise CommandFailed(code, chan_err.read().decode("utf-8", "replace"))

    def close(self) -> None:
        self._conn.close()


def hub_shell(hub_url: str, ssh: SshSettings) -> HubShell:
    url = parse_url(hub_url)
    return LocalShell() if url.local else FabricShell(url, ssh)


def local_path(url: SiteUrl) -> Path:
    if not url.local:
        raise InvalidUrl("not a local URL")
    return Path(url.path)
