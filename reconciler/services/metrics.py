"""Prometheus metrics of architecture.md#observability (prefix `syncplanet_`, base units, no paths
in labels).

`Metrics` owns a registry passed in (tests use a fresh one). Counters and histograms are
updated by the transfer and scan code; gauges that come from the database (files, pending,
`syncplanet_volume_up` for every configured site) are computed at scrape time by a
collector registered with `Metrics.register_store_collector`. The registry also carries the
serving process's `process_*` metrics, and no counter or histogram exports `_created`.

With several API processes (`spctl serve --workers N`) each process counts in its own files
under `multiprocess_dir` (prometheus_client's multiprocess mode, selected by
`PROMETHEUS_MULTIPROC_DIR` before the process imports prometheus_client): `exposition()`
then sums every process's counters and histograms through a `MultiProcessCollector` and
adds the store gauges once (they come from the shared store, not from any process). The
`process_*` series describe one process, so they are left out in that mode.

Transfer counters are labelled by the volume whose copy moved (`site`) and the way it went
(`direction`: emission = volume to hub, reception = hub to volume); the hub is the other end
of every transfer, so it never appears as their `site`.
"""

from __future__ import annotations

import threading
from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.multiprocess import MultiProcessCollector

from reconciler.core.domain import Direction
from reconciler.services.collector import StoreCollector
from reconciler.store import Store

VERSION = "0.1.0"
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)


class Metrics:
    def __init__(
        self, registry: CollectorRegistry | None = None, *, multiprocess_dir: Path | None = None
    ) -> None:
        # `_created` series double every counter and histogram and no dashboard uses them.
        # prometheus_client only has a process-wide switch; setting up metrics is the place.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry or CollectorRegistry()
        self.store_collector: StoreCollector | None = None
        self._collector_lock = threading.Lock()
        self._exposition = self.registry
        r = self.registry
        if multiprocess_dir is None:
            ProcessCollector(registry=r)  # process_cpu_seconds_total, memory, fds, start time
        else:
            self._exposition = CollectorRegistry()
            summed = str(multiprocess_dir)
            MultiProcessCollector(self._exposition, path=summed)  # type: ignore[no-untyped-call]
        self.transfers = Counter(
            "syncplanet_transfers_total", "Files delivered", ["site", "direction"], registry=r
        )
        self.failures = Counter(
            "syncplanet_transfer_failures_total",
            "Files whose transfer failed, by rsync/ssh exit code",
            ["site", "direction", "exit_code"],
            registry=r,
        )
        self.bytes = Counter(
            "syncplanet_transferred_bytes_total",
            "Bytes delivered",
            ["site", "direction"],
            registry=r,
        )
        self.duration = Histogram(
            "syncplanet_transfer_duration_seconds",
            "Duration of one rsync batch",
            ["direction"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.streams = Gauge(
            "syncplanet_transfer_streams",
            "rsync runs in flight for a batch (parallelStreams, at most one per file)",
            ["site", "direction"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.scan_duration = Gauge(
            "syncplanet_scan_duration_seconds",
            "Duration of the last scan",
            ["site"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.job_runs = Counter(
            "syncplanet_job_runs_total",
            "Reconciler job runs by kind and outcome (ok, failed, error)",
            ["job", "outcome"],
            registry=r,
        )
        self.job_duration = Histogram(
            "syncplanet_job_duration_seconds",
            "Duration of one reconciler job run",
            ["job"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.reconcile_last_success = Gauge(
            "syncplanet_reconcile_last_success_timestamp_seconds",
            "When a reconcile pass last completed",
            registry=r,
            multiprocess_mode="max",  # one series, not one per API process
        )
        self.http_requests = Counter(
            "syncplanet_http_requests_total",
            "Requests answered by the tracker API, by HTTP status code",
            ["code"],
            registry=r,
        )
        self.build_info = Info("syncplanet_build", "Build information", registry=r)
        if self._exposition is not r:
            self._exposition.register(self.build_info)  # a constant: not in the shared files
        self.build_info.info({"version": VERSION})
        for direction in Direction:
            self.duration.labels(direction.value)

    def declare_site(self, site: str) -> None:
        """Pre-declare a volume's series at zero so alerts do not wait for the first event."""
        for direction in Direction:
            self.transfers.labels(site, direction.value)
            self.bytes.labels(site, direction.value)

    def register_store_collector(self, store: Store) -> StoreCollector:
        """Add the scrape-time gauges read from `store` (idempotent: once per registry)."""
        with self._collector_lock:
            if self.store_collector is None:
                self.store_collector = StoreCollector(store, on_site=self.declare_site)
                self._exposition.register(self.store_collector)
                # Sites found at a scrape are declared for the next one; these, for the first.
                self.store_collector.declare_known_sites()
            return self.store_collector

    def exposition(self) -> CollectorRegistry:
        """The registry `/metrics` serves: this process's, or every API process's summed."""
        return self._exposition
