"""`spctl.tracker`: the store and a server behind it answer every command the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.client import Client
from reconciler.core.clock import now_ms
from reconciler.core.kinds import lookup_kind
from spctl.common import CliError
from spctl.tracker import LocalTracker, RemoteTracker, Tracker, connect
from tests.api.conftest import ADMIN_PASSWORD
from tests.support.production import put_hub_and_paris


@pytest.fixture
def trackers(
    store_url: str, server_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Tracker, Tracker]:
    """The same store, directly and through a running tracker (signed in as admin)."""
    with Client(server_url) as client:
        token = client.signIn("admin", ADMIN_PASSWORD)["token"]
    monkeypatch.setenv("SPCTL_TOKEN", token)
    put_hub_and_paris(store_url, tmp_path)
    local = connect(store_url, None)
    local.publish({"_id": "/shots/a.exr", "origin": "paris", "comment": "v1"})
    return local, connect(None, server_url + "/")


def test_connect_chooses_once(store_url: str) -> None:
    assert isinstance(connect(store_url, None), LocalTracker)
    remote = connect(None, "http://tracker:8090/")
    assert isinstance(remote, RemoteTracker) and remote.server == "http://tracker:8090"
    with pytest.raises(CliError, match="either --db or --server"):
        connect(store_url, "http://tracker:8090")


def test_same_answers_from_the_store_and_the_server(trackers: tuple[Tracker, Tracker]) -> None:
    local, remote = trackers
    volumes = lookup_kind("volumes")
    assert volumes is not None
    assert [o["metadata"]["name"] for o in local.objects(volumes, None)] == ["paris"]
    assert local.objects(volumes, None) == remote.objects(volumes, None)
    assert local.objects(volumes, "paris") == remote.objects(volumes, "paris")
    assert local.objects(volumes, "nowhere") == remote.objects(volumes, "nowhere") == []
    assert {s["site"] for s in local.status()} == {"hub", "paris"}
    assert local.status() == remote.status()
    described = local.describe_file("/shots/a.exr")
    assert described["origin"] == "paris" and described == remote.describe_file("/shots/a.exr")
    now = now_ms()
    assert local.workers(now) == remote.workers(now) == []


@pytest.mark.parametrize("side", ["local", "remote"])
def test_refusals_are_one_line_errors_with_exit_1(
    trackers: tuple[Tracker, Tracker], side: str
) -> None:
    tracker = trackers[0] if side == "local" else trackers[1]
    with pytest.raises(CliError) as unlocked:
        tracker.unlock("/shots/a.exr")
    assert unlocked.value.code == 1
    with pytest.raises(CliError) as again:
        tracker.publish({"_id": "/shots/a.exr", "origin": "paris", "comment": "v2"})
    assert again.value.code == 1 and "Conflict" in str(again.value)
    with pytest.raises(CliError) as missing:
        tracker.describe_file("/shots/none.exr")
    assert missing.value.code == 2 and "none.exr" in str(missing.value)
