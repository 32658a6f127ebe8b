"""Scrape-time gauges read from the store: files per site and state, pending bytes, oldest,
and whether each site answered (`syncplanet_volume_up`).

`StoreCollector` is a prometheus_client custom collector: nothing is cached between scrapes,
every `collect()` reads the maintained `site_counts` table (one small row per site and
state) and, per site, the oldest pending file through the partial index `ix_fs_oldest`. Both
cost milliseconds whatever the number of files (architecture.md#performance), so a 15 s scrape
interval is fine at 1,000,000 files x 8 sites (`tests/bench/bench_metrics.py` measures it).

`syncplanet_volume_up` comes from configuration and status: one series for every configured
site (the hub and each volume), whatever this process did since it started, with the value
`spctl status` shows as reachable (1 yes, 0 no, NaN not tried yet, e.g. a disabled volume).

`syncplanet_volume_mounted` (1, or 0 while the volume's marker says its share is not
mounted: `mountError`, `reconciler.jobs.markers`; such a volume is also down) and
`syncplanet_scan_deletions_held` (files the deletion guard holds until
`spctl scan VOLUME --confirm-deletions`) come from the volumes' status keys too.

Register it with `Metrics.register_store_collector(store)`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from reconciler.core.config import SyncConfig
from reconciler.core.domain import HUB_PREFIX, VOLUME_PREFIX, SiteState
from reconciler.services.status import reachable
from reconciler.store import Store, Tx
from reconciler.store import queue as q
from reconciler.store.errors import StoreError

log = logging.getLogger(__name__)

# Copies that still have to move: wanted on the site and not (yet) synced there.
PENDING_STATES = (SiteState.MISSING, SiteState.OUTDATED, SiteState.ERROR, SiteState.SYNCING)


@dataclass(frozen=True)
class SiteGauges:
    """What the store says about one site at scrape time."""

    site: str
    files: dict[str, int]  # every SiteState value, zero when absent
    pending_bytes: int
    oldest_pending_ms: int | None


def read_gauges(tx: Tx, sites: Sequence[str]) -> list[SiteGauges]:
    """The gauges of every configured site (plus any site still present in the counters)."""
    counts = q.counts(tx)
    names = list(dict.fromkeys([*sites, *sorted(counts)]))
    out: list[SiteGauges] = []
    for site in names:
        entry = counts.get(site)
        files = {s.value: (entry.files.get(s.value, 0) if entry else 0) for s in SiteState}
        pending_bytes = sum(entry.bytes.get(s.value, 0) for s in PENDING_STATES) if entry else 0
        out.append(SiteGauges(site, files, pending_bytes, q.oldest_pending(tx, site)))
    return out


def site_up(tx: Tx, cfg: SyncConfig) -> dict[str, bool | None]:
    """Every configured site (hub first) and whether it answered, from its object's keys."""
    out: dict[str, bool | None] = {}
    for site in cfg.sites:
        hub = site == cfg.hub_name
        doc = tx.get((HUB_PREFIX if hub else VOLUME_PREFIX) + site) or {}
        out[site] = reachable(doc, hub=hub)
    return out


def volume_guards(tx: Tx, cfg: SyncConfig) -> dict[str, tuple[bool, int]]:
    """Every volume: (mounted, deletions held), from its object's keys."""
    out: dict[str, tuple[bool, int]] = {}
    for name in cfg.volumes:
        doc = tx.get(VOLUME_PREFIX + name) or {}
        held = doc.get("deletionsHeld")
        out[name] = (not doc.get("mountError"), held if isinstance(held, int) else 0)
    return out


class StoreCollector(Collector):
    """Gauges of architecture.md#observability computed from the store at each scrape."""

    def __init__(self, store: Store, on_site: Callable[[str], None] | None = None) -> None:
        self.store = store
        # Lets Metrics pre-declare a configured site's counters at zero (alerts need them).
        self.on_site = on_site

    def declare_known_sites(self) -> None:
        """Pass every configured site to `on_site` now (best effort: the store may be down)."""
        if self.on_site is None:
            return
        try:
            with self.store.read() as tx:
                sites = list(tx.config().volumes)
        except StoreError as exc:
            log.warning("metrics: store unreadable: %s", exc)
            return
        for site in sites:
            self.on_site(site)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without describe() a registry would call collect() (a database read) on register.
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        files, pending, oldest, up, store_up, mounted, held = self._families()
        try:
            with self.store.read() as tx:
                cfg = tx.config()
                gauges = read_gauges(tx, cfg.sites)
                answered = site_up(tx, cfg)
                guards = volume_guards(tx, cfg)
        except StoreError as exc:
            # A scrape must still return the counters; the alert on store_up says why.
            log.warning("metrics: store unreadable: %s", exc)
            store_up.add_metric([], 0)
            yield store_up
            return
        for site in cfg.volumes:
            if self.on_site is not None:
                self.on_site(site)
        for site, ok in answered.items():
            up.add_metric([site], math.nan if ok is None else float(ok))
        for site, (is_mounted, held_files) in guards.items():
            mounted.add_metric([site], float(is_mounted))
            held.add_metric([site], held_files)
        for g in gauges:
            for state, value in g.files.items():
                files.add_metric([g.site, state], value)
            pending.add_metric([g.site], g.pending_bytes)
            if g.oldest_pending_ms is not None:
                oldest.add_metric([g.site], g.oldest_pending_ms / 1000)
        store_up.add_metric([], 1)
        yield from (files, pending, oldest, up, store_up, mounted, held)

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                "syncplanet_files",
                "Wanted copies per site and state (synced, outdated, missing, syncing, error)",
                labels=["site", "state"],
            ),
            GaugeMetricFamily(
                "syncplanet_pending_bytes",
                "Bytes of the wanted copies not yet synced on the site",
                labels=["site"],
            ),
            GaugeMetricFamily(
                "syncplanet_oldest_pending_timestamp_seconds",
                "time of the oldest file still pending on the site (absent when none)",
                labels=["site"],
            ),
            GaugeMetricFamily(
                "syncplanet_volume_up",
                "1 if the site answered at the last attempt, 0 if not, NaN if never tried",
                labels=["site"],
            ),
            GaugeMetricFamily(
                "syncplanet_store_up", "1 if the store answered the last scrape", labels=[]
            ),
            GaugeMetricFamily(
                "syncplanet_volume_mounted",
                "0 while the volume's marker says its share is not mounted, else 1",
                labels=["site"],
            ),
            GaugeMetricFamily(
                "syncplanet_scan_deletions_held",
                "Files gone from the volume that the deletion guard holds until confirmed",
                labels=["site"],
            ),
        )
