"""Out-of-range numbers in a file document (found by the fuzz run), on both stores.

A user may store any JSON number in `time`, `file_size`, `sync_priority` or a site key; the
rows derived from it land in 64-bit (priority: 32-bit) columns. Such a write used to be a
500 (OverflowError on SQLite, NumericValueOutOfRange on PostgreSQL), and a huge `syncing_*`
broke `explain` (a date past year 9999). Now the derived values are clamped and every
route that reads the file answers.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.desired import MAX_PRIORITY, MAX_SIZE
from tests.api.conftest import Api

HUGE = 2**70
CASES: list[dict[str, Any]] = [
    {"time": HUGE},
    {"time": 1e300},
    {"time": -(2**64)},
    {"file_size": HUGE},
    {"file_size": -1e300},
    {"sync_priority": HUGE},
    {"sync_priority": -(2**64)},
    {"sync_priority": 1e300},
    {"origin": "paris", "synced_paris": HUGE, "time": 2**63},
    {"syncing_tokyo": 2**64},
    {"syncError_tokyo": 1, "syncLastAttempt_tokyo": HUGE, "syncAttempts_tokyo": 3},
]
READS = (
    "/api/describe{id}",
    "/api/explain{id}",
    "/api/explain{id}?site=tokyo",
    "/api/status",
    "/api/listup/paris/hub/10",
    "/api/listdown/hub/tokyo/10",
    "/api/web/files?sort=priority",
    "/api/web/sites",
    "/api/web/file?id={id}",
    "/api/read/{id}",
)


@pytest.fixture
def sites(api: Api) -> Api:
    made = api.call(
        "POST",
        "/api/create/",
        [
            {"_id": "hub/hub", "name": "hub", "url": "/srv/hub/"},
            {"_id": "volume/paris", "name": "paris", "url": "/srv/paris/"},
            {"_id": "volume/tokyo", "name": "tokyo", "url": "/srv/tokyo/"},
        ],
    )
    assert made.status_code == 201, made.text
    return api


@pytest.mark.parametrize("keys", CASES, ids=lambda keys: ",".join(keys))
def test_a_file_with_huge_numbers_is_stored_and_readable(sites: Api, keys: dict[str, Any]) -> None:
    doc = {"_id": "/shots/huge.exr", "origin": "paris", **keys}
    created = sites.call("POST", "/api/create/", doc)
    assert created.status_code == 201, created.text
    for path in READS:
        reply = sites.call("GET", path.format(id=doc["_id"]))
        assert reply.status_code == 200, (path, reply.text)
    update = sites.call("PUT", "/api/update/", {"_id": doc["_id"], **keys, "comment": "x"})
    assert update.status_code == 200, update.text


def test_derived_values_are_clamped(sites: Api) -> None:
    doc = {"_id": "/shots/big.exr", "origin": "paris", "file_size": HUGE, "sync_priority": HUGE}
    assert sites.call("POST", "/api/create/", doc).status_code == 201
    described = sites.call("GET", "/api/describe/shots/big.exr").json()
    assert described["priority"] == MAX_PRIORITY
    queue = sites.call("GET", "/api/listup/paris/hub/10").json()
    assert [(q["file_id"], q["file_size"]) for q in queue] == [("/shots/big.exr", MAX_SIZE)]
