"""Unreachable volumes: the others converge; the volume converges as soon as it answers.

A site is taken down by stopping its sshd (no connection survives: each pass opens its own
SSH master connections and closes them at the end).
"""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.core.domain import is_unreachable
from tests.reconciler.conftest import World, WorldFactory, same_copy

pytestmark = pytest.mark.ssh


def volume_up(w: World, site: str) -> float | None:
    """`syncplanet_volume_up{site}` as a scrape of the world's registry shows it."""
    w.metrics.register_store_collector(w.store)
    text = generate_latest(w.metrics.registry).decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "syncplanet_volume_up" and sample.labels == {"site": site}:
                return sample.value
    return None


def test_a_site_down_does_not_stop_the_others_and_converges_when_back(world: WorldFactory) -> None:
    w: World = world("paris", "london", "tokyo")
    files = [f"/shot{i}.exr" for i in range(3)]
    for file_id in files:
        w.publish("paris", file_id, file_id.encode() * 100)
    w.sites["tokyo"].stop()

    assert w.reconcile() is True

    tokyo = w.doc("volume/tokyo")
    assert tokyo["agentStatus"] == "off" and tokyo["exit_reception"] == 255
    assert tokyo["nextConnectionAttempt"] > tokyo["lastConnectionAttempt"]
    assert "lastConnectionSuccess" not in tokyo
    assert volume_up(w, "tokyo") == 0
    for file_id in files:
        doc = w.doc(file_id)
        assert same_copy(w.path("paris", file_id), w.path("london", file_id))
        assert doc["synced_london"] >= doc["time"]
        assert doc["syncError_tokyo"] == 255 and "synced_tokyo" not in doc
        assert "syncAttempts_tokyo" not in doc  # unreachability is not the file's fault

    # still down: the next pass tries it once more, it fails, others are unaffected
    assert w.reconcile() is True
    assert w.doc("volume/tokyo")["connectionFailures"] == 2

    w.sites["tokyo"].start()
    assert w.reconcile() is False  # no per-file backoff: retried at once

    tokyo = w.doc("volume/tokyo")
    assert tokyo["agentStatus"] == "on" and tokyo["exit_reception"] == 0
    assert tokyo["lastConnectionStatusChange"] == tokyo["lastConnectionSuccess"]
    assert "nextConnectionAttempt" not in tokyo and "connectionFailures" not in tokyo
    assert volume_up(w, "tokyo") == 1
    for file_id in files:
        doc = w.doc(file_id)
        assert same_copy(w.path("paris", file_id), w.path("tokyo", file_id))
        assert doc["synced_tokyo"] >= doc["time"]
        assert "syncError_tokyo" not in doc and "syncLastAttempt_tokyo" not in doc


def test_an_origin_down_delays_only_its_own_emissions(world: WorldFactory) -> None:
    w: World = world("paris", "london", "tokyo")
    w.publish("paris", "/from-paris", b"p")
    w.publish("london", "/from-london", b"l")
    w.sites["paris"].stop()

    assert w.reconcile() is True

    # pulling from a dead host: rsync says 12 (protocol stream), an unreachability code
    assert is_unreachable(w.doc("/from-paris")["syncError_hub"])
    assert w.doc("volume/paris")["agentStatus"] == "off"
    assert same_copy(w.path("london", "/from-london"), w.path("tokyo", "/from-london"))

    w.sites["paris"].start()
    assert w.reconcile() is False
    assert same_copy(w.path("paris", "/from-paris"), w.path("tokyo", "/from-paris"))
    assert same_copy(w.path("london", "/from-london"), w.path("paris", "/from-london"))
