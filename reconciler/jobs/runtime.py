"""What a reconciler job needs to act: the store, the hub shell, SSH settings, metrics, clock.

Immutable: `reconciler.jobs.session.HubSession` builds one per hub connection and hands it to
each job for the job's whole run, so a job never sees its shell swapped or closed under it
(a changed Hub gives the next jobs a new `Runtime`); tests build one with a fixed clock or a
fresh metrics registry. Jobs reach a site only through
`site(url)`, its transport (`reconciler.transport`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.core.clock import now_ms
from reconciler.core.urls import SiteUrl
from reconciler.services.metrics import Metrics
from reconciler.store import Store
from reconciler.transport.protocol import SiteTransport
from reconciler.transport.shells import HubShell
from reconciler.transport.sites import open_site
from reconciler.transport.ssh import SshSettings


@dataclass(frozen=True)
class Runtime:
    store: Store
    shell: HubShell
    ssh: SshSettings
    metrics: Metrics = field(default_factory=Metrics)
    clock: Callable[[], int] = now_ms
    worker_id: str = "worker"

    def site(self, url: SiteUrl) -> SiteTransport:
        """The transport of the root at `url` (a volume, or the hub's root on its host)."""
        return open_site(url, shell=self.shell, ssh=self.ssh)
