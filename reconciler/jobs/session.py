"""The process's hub session: the connection to the hub host, and this worker's row.

`HubSession` owns the connection to the hub host (`LocalShell` or Fabric) and the OpenSSH
ControlMaster directory that rsync's `ssh` reuses (architecture.md#performance, opened by
`reconciler.transport.hub`), and rebuilds them when the Hub object changes. Each connection
comes with its own immutable `Runtime`; a job takes one with `with session.runtime() as rt`
and keeps it for its whole run. A replaced connection is retired, and closed only when the
last job using it lets go: a job never has its shell closed under it (issue 12).
It also owns this process's `Worker` (`reconciler.jobs.workers`: heartbeat and takeover).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from reconciler.core.clock import now_ms
from reconciler.core.config import SyncConfig
from reconciler.core.urls import InvalidUrl, SiteUrl, parse_url
from reconciler.jobs.runtime import Runtime
from reconciler.jobs.workers import Worker, default_worker_id
from reconciler.services.metrics import Metrics
from reconciler.store import Store
from reconciler.transport import hub as hub_host
from reconciler.transport.shells import LocalShell
from reconciler.transport.ssh import SshSettings

log = logging.getLogger(__name__)


@dataclass
class _Connection:
    rt: Runtime
    users: int = 0
    retired: bool = False


class HubSession:
    """Runtimes whose hub shell and SSH settings follow the Hub object."""

    def __init__(
        self,
        store: Store,
        *,
        metrics: Metrics | None = None,
        worker_id: str | None = None,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.worker = Worker(store, worker_id or default_worker_id(), clock)
        self._base = Runtime(
            store=store,
            shell=LocalShell(),
            ssh=SshSettings(),
            metrics=metrics or Metrics(),
            clock=clock,
            worker_id=self.worker.id,
        )
        self._conn = _Connection(self._base)
        self._hub_key: tuple[str, str, str] | None = None
        self._volume_urls: set[str] = set()
        self._lock = threading.Lock()

    @property
    def rt(self) -> Runtime:
        """The current runtime, for a caller that does not refresh meanwhile (`--once`)."""
        return self._conn.rt

    @contextmanager
    def runtime(self) -> Iterator[Runtime]:
        """The current runtime, whose connection stays open until the block ends."""
        with self._lock:
            conn = self._conn
            conn.users += 1
        try:
            yield conn.rt
        finally:
            with self._lock:
                conn.users -= 1
                done = conn.retired and conn.users == 0
            if done:
                self._close(conn)

    def refresh(self, cfg: SyncConfig) -> None:
        """(Re)connect when the hub's url, identityFile or knownHosts changed."""
        self.worker.configure(cfg)
        self._volume_urls |= {v.url for v in cfg.volumes.values()}
        hub = cfg.hub
        key = (hub.url, hub.identity_file, hub.known_hosts) if hub else None
        with self._lock:
            if key == self._hub_key:
                return
            self._hub_key = key
            rt = self._connect(key)
            old, self._conn = self._conn, _Connection(rt)
            old.retired = True
            done = old.users == 0
        if done:
            self._close(old)

    def _connect(self, key: tuple[str, str, str] | None) -> Runtime:
        base = self._base
        if key is None:
            return Runtime(base.store, LocalShell(), SshSettings(), base.metrics, base.clock,
                           base.worker_id)  # fmt: skip
        try:
            url = parse_url(key[0])
        except InvalidUrl as exc:
            log.error("hub url: %s", exc)
            return Runtime(base.store, LocalShell(), SshSettings(), base.metrics, base.clock,
                           base.worker_id)  # fmt: skip
        shell, ssh = hub_host.connect(url, identity_file=key[1], known_hosts=key[2])
        return Runtime(base.store, shell, ssh, base.metrics, base.clock, base.worker_id)

    def _sites(self) -> list[SiteUrl]:
        urls: list[SiteUrl] = []
        for raw in sorted(self._volume_urls):
            try:
                urls.append(parse_url(raw))
            except InvalidUrl:
                continue
        return urls

    def _close(self, conn: _Connection) -> None:
        """Stop a retired connection's ControlMasters, remove their folder, close its shell."""
        rt = conn.rt
        try:
            if rt.ssh.control_dir:
                hub_host.disconnect(rt.shell, rt.ssh, self._sites())
                hub_host.remove_control_dirs(rt.shell, [rt.ssh.control_dir])
        finally:
            rt.shell.close()

    def close(self) -> None:
        self.worker.stop()
        with self._lock:
            conn = self._conn
            conn.retired = True
            self._hub_key = None
            self._conn = _Connection(self._base)
            done = conn.users == 0
        if done:
            self._close(conn)


def open_session(store: Store, **kwargs: Any) -> HubSession:
    """A connected session whose worker is registered (dead same-host owners taken over)."""
    session = HubSession(store, **kwargs)
    with store.read() as tx:
        cfg = tx.config()
    session.refresh(cfg)
    session.worker.start()
    return session
