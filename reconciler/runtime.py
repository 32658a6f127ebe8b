"""What a reconciler job needs to act: the store, the hub shell, SSH settings, metrics, clock.

Built once per process (`spctl reconcile`, `spctl run`) and passed to the jobs; tests
build one with a fixed clock or a fresh metrics registry.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.metrics import Metrics
from reconciler.remote import HubShell, SshSettings
from reconciler.store import Store


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Runtime:
    store: Store
    shell: HubShell
    ssh: SshSettings
    metrics: Metrics = field(default_factory=Metrics)
    clock: Callable[[], int] = now_ms
    worker_id: str = "worker"
