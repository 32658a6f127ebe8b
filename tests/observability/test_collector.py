"""The scrape-time collector, on SQLite and PostgreSQL, through a real registry scrape."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.services.metrics import Metrics
from reconciler.store import Store
from tests.observability.seed import MIN, NOW, seed
from tests.support.servers import free_port


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float | None:  # fmt: skip
    return samples.get((name, tuple(sorted(labels.items()))))


def test_gauges_follow_the_store(store: Store) -> None:
    seed(
        store,
        {"_id": "/a", "origin": "paris", "time": NOW - 10 * MIN, "file_size": 100},
        {"_id": "/b", "origin": "paris", "time": NOW - 5 * MIN, "file_size": 50,
         "synced_hub": NOW - 4 * MIN},
        {"_id": "/c", "origin": "paris", "time": NOW - 9 * MIN, "file_size": 7,
         "synced_hub": NOW, "synced_tokyo": NOW - 20 * MIN, "syncError_tokyo": 23,
         "syncLastAttempt_tokyo": NOW},
    )  # fmt: skip
    metrics = Metrics(CollectorRegistry())
    metrics.register_store_collector(store)
    metrics.register_store_collector(store)  # idempotent
    s = scrape(metrics)
    assert value(s, "syncplanet_files", site="hub", state="missing") == 1
    assert value(s, "syncplanet_files", site="hub", state="synced") == 2
    assert value(s, "syncplanet_files", site="tokyo", state="missing") == 2
    assert value(s, "syncplanet_files", site="tokyo", state="error") == 1
    assert value(s, "syncplanet_files", site="paris", state="synced") == 3
    # Every configured site has every state, zero included (alerts need the series).
    assert value(s, "syncplanet_files", site="london", state="synced") == 0
    assert value(s, "syncplanet_files", site="london", state="error") == 0
    assert value(s, "syncplanet_pending_bytes", site="hub") == 100
    assert value(s, "syncplanet_pending_bytes", site="tokyo") == 157
    assert value(s, "syncplanet_pending_bytes", site="paris") == 0
    assert value(s, "syncplanet_oldest_pending_timestamp_seconds", site="hub") == (
        (NOW - 10 * MIN) / 1000
    )
    assert value(s, "syncplanet_oldest_pending_timestamp_seconds", site="tokyo") == (
        (NOW - 10 * MIN) / 1000
    )
    assert value(s, "syncplanet_oldest_pending_timestamp_seconds", site="paris") is None
    assert value(s, "syncplanet_store_up") == 1
    # The configured sites' counters are pre-declared at zero.
    assert value(s, "syncplanet_transfers_total", site="tokyo", direction="reception") == 0
    assert value(s, "syncplanet_build_info", version="0.1.0") == 1

    with store.write() as tx:
        tx.patch("/a", {"synced_hub": NOW, "synced_tokyo": NOW})
        tx.patch("/c", {"synced_tokyo": NOW, "syncError_tokyo": None,
                        "syncLastAttempt_tokyo": None})  # fmt: skip
    s = scrape(metrics)
    assert value(s, "syncplanet_files", site="hub", state="missing") == 0
    assert value(s, "syncplanet_files", site="tokyo", state="synced") == 2
    assert value(s, "syncplanet_files", site="tokyo", state="error") == 0
    assert value(s, "syncplanet_pending_bytes", site="tokyo") == 50
    assert value(s, "syncplanet_oldest_pending_timestamp_seconds", site="hub") is None
    assert value(s, "syncplanet_oldest_pending_timestamp_seconds", site="tokyo") == (
        (NOW - 5 * MIN) / 1000
    )


def test_every_configured_site_has_volume_up_from_its_status_after_a_restart(
    store: Store,
) -> None:
    """A fresh registry (the process just restarted, nothing transferred yet) still has one
    `syncplanet_volume_up` per configured site, agreeing with `spctl status`."""
    seed(store)
    with store.write() as tx:
        tx.put_many([
            {"_id": "volume/montreal", "name": "montreal", "url": "/srv/montreal/",
             "lastConnectionAttempt": NOW - MIN, "lastConnectionSuccess": NOW - 2 * MIN},
            {"_id": "volume/berlin", "name": "berlin", "url": "/srv/berlin/",
             "lastConnectionAttempt": NOW - 2 * MIN, "lastConnectionSuccess": NOW - MIN},
        ])  # fmt: skip
    metrics = Metrics(CollectorRegistry())
    metrics.register_store_collector(store)
    up = {k[1][0][1]: v for k, v in scrape(metrics).items() if k[0] == "syncplanet_volume_up"}
    assert set(up) == {"hub", "paris", "tokyo", "london", "montreal", "berlin"}
    assert (up["hub"], up["paris"], up["tokyo"], up["berlin"]) == (1, 1, 1, 1)
    assert up["montreal"] == 0  # its last attempt failed
    assert math.isnan(up["london"])  # never tried: unknown, neither up nor down


def test_no_created_series_process_metrics_and_no_hub_rows(store: Store) -> None:
    seed(store)
    metrics = Metrics(CollectorRegistry())
    metrics.register_store_collector(store)
    metrics.transfers.labels("paris", "emission").inc(2)
    metrics.duration.labels("emission").observe(1.5)
    text = generate_latest(metrics.registry).decode()
    assert "_created" not in text
    names = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    assert {"process_cpu_seconds_total", "process_resident_memory_bytes"} <= names
    sites = {
        s.labels["site"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name in ("syncplanet_transfers_total", "syncplanet_transferred_bytes_total")
    }
    # transfers are counted by the volume whose copy moved; the hub is the other end
    assert sites == {"paris", "tokyo", "london"}


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent-dir/store.db",
        pytest.param("postgresql+psycopg://postgres@127.0.0.1:{port}/gone", id="postgres-down"),
    ],
)
def test_an_unreadable_store_still_serves_the_counters(url: str) -> None:
    store = Store(sa.create_engine(url.format(port=free_port())))  # nothing answers there
    metrics = Metrics(CollectorRegistry())
    metrics.register_store_collector(store)
    metrics.transfers.labels("paris", "emission").inc(3)
    s = scrape(metrics)
    assert value(s, "syncplanet_store_up") == 0
    assert value(s, "syncplanet_transfers_total", site="paris", direction="emission") == 3
    assert not [k for k in s if k[0] == "syncplanet_files"]
