"""Where commands run: the hub host, as local processes or through one Fabric connection.

rsync and volume listings always run on the hub host (architecture.md#topology). `HubShell` is the
one protocol for that, with two implementations side by side: `LocalShell` (the hub directory is on
the reconciler host, `subprocess`) and `FabricShell` (the hub is `ssh://`, one kept-open Fabric
connection with TCP_NODELAY). Commands are argument vectors; a shell only ever sees them joined with
`shlex.join`, so user paths are never interpreted by a shell. The site transports
(`reconciler.transport.sites`) run every command through one of these.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import threading
from collections.abc import Generator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.core.urls import SiteUrl
from reconciler.transport.ssh import SshSettings


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
                    # paramiko leaves Nagle on: ~40 ms per command otherwise
                    # (architecture.md#performance)
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


def hub_shell(hub: SiteUrl, ssh: SshSettings) -> HubShell:
    """The shell of the hub host: this host's processes, or Fabric when the hub is `ssh://`."""
    return LocalShell() if hub.local else FabricShell(hub, ssh)
