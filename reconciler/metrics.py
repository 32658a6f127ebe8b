"""Prometheus metrics of SPEC §8 (prefix `syncplanet_`, base units, no paths in labels).

`Metrics` owns a registry passed in (tests use a fresh one). Counters and histograms are
updated by the transfer and scan code; gauges that come from the database (files, pending,
`syncplanet_volume_up` for every configured site) are computed at scrape time by a
collector registered with `Metrics.register_store_collector`. The registry also carries the
serving process's `process_*` metrics, and no counter or histogram exports `_created`.

Transfer counters are labelled by the volume whose copy moved (`site`) and the way it went
(`direction`: emission = volume to hub, reception = hub to volume); the hub is the other end
of every transfer, so it never appears as their `site`.
"""

from __future__ import annotations

import threading

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    disable_created_metrics,
)

from reconciler.collector import StoreCollector
from reconciler.domain import Direction
from reconciler.store import Store

VERSION = "0.1.0"
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        # `_created` series double every counter and histogram and no dashboard uses them.
        # prometheus_client only has a process-wide switch; setting up metrics is the place.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.registry = registry or CollectorRegistry()
        self.store_collector: StoreCollector | None = None
        self._collector_lock = threading.Lock()
        r = self.registry
        ProcessCollector(registry=r)  # process_cpu_seconds_total, memory, open fds, start time
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
        self.scan_duration = Gauge(
            "syncplanet_scan_duration_seconds", "Duration of the last scan", ["site"], registry=r
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
        )
        self.build_info = Info("syncplanet_build", "Build information", registry=r)
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
                self.registry.register(self.store_collector)
                # Sites found at a scrape are declared for the next one; these, for the first.
                self.store_collector.declare_known_sites()
            return self.store_collector
