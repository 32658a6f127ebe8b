"""`site_status`, `describe_file`, `listup` / `listdown` on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from reconciler.core.humanize import human_age, human_bytes
from reconciler.services.status import (
    BadRequest,
    NotFound,
    describe_file,
    listdown,
    listup,
    reachable,
    site_status,
    to_json,
)
from reconciler.store import Store
from tests.observability.seed import MIN, NOW, seed

FILES = [
    {"_id": "/old", "origin": "paris", "time": NOW - 30 * MIN, "file_size": 10,
     "synced_hub": NOW - 29 * MIN},
    {"_id": "/new", "origin": "paris", "time": NOW - 10 * MIN, "file_size": 20,
     "synced_hub": NOW - 9 * MIN},
    {"_id": "/urgent", "origin": "paris", "time": NOW - 5 * MIN, "file_size": 30,
     "sync_priority": 9, "synced_hub": NOW - 4 * MIN},
    {"_id": "/failed", "origin": "paris", "time": NOW - 60 * MIN, "file_size": 40,
     "synced_hub": NOW - 59 * MIN, "syncError_tokyo": 23, "syncLastAttempt_tokyo": NOW - 10_000},
    {"_id": "/unsent", "origin": "paris", "time": NOW - 90 * MIN, "file_size": 50},
    {"_id": "/done", "origin": "tokyo", "time": NOW - 90 * MIN, "file_size": 60,
     "synced_hub": NOW - 80 * MIN, "synced_paris": NOW - 70 * MIN},
]  # fmt: skip


def test_status_per_site(store: Store) -> None:
    seed(store, *FILES)
    with store.read() as tx:
        status = {s.site: s for s in site_status(tx)}
    assert list(status) == ["hub", "london", "paris", "tokyo"]
    hub, paris, tokyo, london = status["hub"], status["paris"], status["tokyo"], status["london"]
    assert hub.role == "hub" and hub.reachable is True  # a local hub: nothing to connect to
    assert hub.files == {"synced": 5, "outdated": 0, "missing": 1, "syncing": 0, "error": 0}
    assert (hub.pending_files, hub.pending_bytes) == (1, 50)
    assert hub.oldest_pending == NOW - 90 * MIN
    assert tokyo.files["missing"] == 4 and tokyo.files["error"] == 1
    assert (tokyo.pending_files, tokyo.pending_bytes) == (5, 150)
    assert tokyo.oldest_pending == NOW - 90 * MIN
    assert tokyo.reachable is True and tokyo.last_reception == NOW - 4 * MIN
    assert paris.files["synced"] == 6 and paris.pending_bytes == 0
    assert paris.oldest_pending is None
    assert (paris.last_scan, paris.last_emission) == (NOW - 2 * MIN, NOW - 3 * MIN)
    assert london.files == {"synced": 0, "outdated": 0, "missing": 0, "syncing": 0, "error": 0}
    assert london.reachable is None
    assert to_json([tokyo])[0]["files"]["error"] == 1


def test_reachability_from_the_connection_keys() -> None:
    assert reachable({}) is None
    assert reachable({"lastConnectionAttempt": 5, "lastConnectionSuccess": 5}) is True
    assert reachable({"lastConnectionAttempt": 9, "lastConnectionSuccess": 5}) is False
    assert reachable({"lastConnectionAttempt": 9}) is False
    assert reachable({"lastConnectionSuccess": 9}) is True


def test_describe_gives_every_site(store: Store) -> None:
    seed(store, *FILES)
    with store.read() as tx:
        d = describe_file(tx, "/failed")
    assert (d.origin, d.time, d.file_size, d.priority, d.deleted) == (
        "paris",
        NOW - 60 * MIN,
        40,
        0,
        False,
    )
    sites = {s.site: s for s in d.sites}
    assert [s.site for s in d.sites] == ["hub", "london", "paris", "tokyo"]
    assert (sites["hub"].state, sites["hub"].synced) == ("synced", NOW - 59 * MIN)
    assert (sites["tokyo"].state, sites["tokyo"].error) == ("error", 23)
    assert sites["tokyo"].last_attempt == NOW - 10_000
    assert sites["tokyo"].next_retry == NOW + 20_000  # retryBackoffBase: 30 s
    assert sites["london"].wanted is False and sites["paris"].state == "synced"


def test_describe_refuses_bad_and_unknown_paths(store: Store) -> None:
    seed(store, *FILES)
    with store.read() as tx:
        with pytest.raises(NotFound, match="/nope is not tracked"):
            describe_file(tx, "/nope")
        with pytest.raises(BadRequest, match=r"path: .*'\.\.'"):
            describe_file(tx, "/a/../b")


def test_listdown_and_listup_in_work_order(store: Store) -> None:
    seed(store, *FILES)
    with store.read() as tx:
        down = listdown(tx, "hub", "tokyo", 10, NOW)
        up = listup(tx, "paris", "hub", 10, NOW)
        first = listdown(tx, "hub", "tokyo", 1, NOW)
    # priority first, untried before failed, oldest first; /failed waits for its backoff.
    assert [e.file_id for e in down] == ["/urgent", "/old", "/new"]
    assert [e.file_id for e in first] == ["/urgent"]
    assert [(e.file_id, e.file_size) for e in up] == [("/unsent", 50)]
    with store.read() as tx:
        later = listdown(tx, "hub", "tokyo", 10, NOW + 60 * MIN)
    assert [e.file_id for e in later] == ["/urgent", "/old", "/new", "/failed"]


@pytest.mark.parametrize(
    ("func", "src", "tgt", "n", "error", "message"),
    [
        (listdown, "paris", "tokyo", 5, BadRequest, "src: downloads come from the hub"),
        (listdown, "hub", "mars", 5, NotFound, "tgt: no volume named 'mars'"),
        (listup, "hub", "hub", 5, NotFound, "src: no volume named 'hub'"),
        (listup, "paris", "tokyo", 5, BadRequest, "tgt: uploads go to the hub"),
        (listup, "paris", "hub", 0, BadRequest, "n: must be between 1 and"),
    ],
)
def test_lists_refuse_wrong_directions(
    store: Store, func: object, src: str, tgt: str, n: int, error: type[Exception], message: str
) -> None:
    seed(store, *FILES)
    with store.read() as tx, pytest.raises(error, match=message):
        func(tx, src, tgt, n, NOW)  # type: ignore[operator]


def test_human_formats() -> None:
    assert human_bytes(0) == "0 B"
    assert human_bytes(1536) == "1.5 KiB"
    assert human_bytes(5 * 1024**3) == "5.0 GiB"
    assert human_age(None, NOW) == "-"
    assert human_age(NOW - 45_000, NOW) == "45s ago"
    assert human_age(NOW - 3 * 3600_000, NOW) == "3h ago"


def test_lists_without_a_hub(store: Store) -> None:
    seed(store, config=[{"_id": "volume/paris", "name": "paris", "url": "/srv/paris/"}])
    with store.read() as tx, pytest.raises(NotFound, match="no hub is configured"):
        listdown(tx, "hub", "paris", 5, NOW)


def test_status_of_an_empty_store_says_so(store_url: str) -> None:
    from typer.testing import CliRunner

    from spctl import app

    result = CliRunner().invoke(app, ["status", "--db", store_url])
    assert result.exit_code == 0, result.output
    assert "No sites configured" in result.output
