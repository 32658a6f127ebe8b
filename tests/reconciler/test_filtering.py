"""Destination filtering (architecture.md#desired-state) end to end: which sites receive which
files.

All four levels: per-file `sync_<site>`, per-file `syncEverywhere`, SyncTargets (sites,
everywhere, excludeSites), the global default; and a configuration change converging on
files already tracked, without any republish.
"""

from __future__ import annotations

import pytest

from tests.reconciler.conftest import World, WorldFactory, same_copy

pytestmark = pytest.mark.ssh

SITES = ("paris", "london", "tokyo")


def holders(w: World, file_id: str) -> set[str]:
    return {s for s in ("hub", *w.sites) if w.path(s, file_id).exists()}


def test_four_levels_of_destination_filtering(world: WorldFactory) -> None:
    w: World = world(*SITES, syncEverywhere=False)
    w.put(
        {
            "_id": "synctarget/renders",
            "name": "renders",
            "paths": ["/renders/**"],
            "sites": ["london"],
            "priority": 3,
        }
    )
    w.put(
        {
            "_id": "synctarget/shared",
            "name": "shared",
            "paths": ["/shared/**"],
            "everywhere": True,
            "excludeSites": ["tokyo"],
        }
    )
    cases = {
        "/renders/a.exr": ({}, {"london"}),  # 3: the target's sites
        "/renders/b.exr": ({"sync_tokyo": True}, {"london", "tokyo"}),  # 1 adds a site
        "/renders/c.exr": ({"sync_london": False}, set()),  # 1 removes one
        "/renders/d.exr": ({"syncEverywhere": False}, set()),  # 2 beats 3
        "/misc/e.txt": ({}, set()),  # 4: the global default (false)
        "/misc/f.txt": ({"syncEverywhere": True}, {"london", "tokyo"}),  # 2 beats 4
        "/shared/g.txt": ({}, {"london"}),  # everywhere but excludeSites
        "/shared/h.txt": ({"sync_tokyo": True}, {"london", "tokyo"}),  # 1 beats excludeSites
    }
    for file_id, (keys, _) in cases.items():
        w.publish("paris", file_id, file_id.encode(), **keys)

    assert w.reconcile() is False

    for file_id, (_, wanted) in cases.items():
        # the hub is the central copy: it receives everything from the origin
        assert holders(w, file_id) == {"hub", "paris", *wanted}, file_id
        doc = w.doc(file_id)
        assert {s for s in SITES if f"synced_{s}" in doc} == {"paris", *wanted}, file_id
        for site in wanted:
            assert same_copy(w.path("paris", file_id), w.path(site, file_id))


def test_changing_the_configuration_converges_without_republishing(world: WorldFactory) -> None:
    w: World = world(*SITES, syncEverywhere=False)
    w.publish("paris", "/misc/e.txt", b"e")
    w.publish("paris", "/renders/x.exr", b"x")
    assert w.reconcile() is False
    assert holders(w, "/misc/e.txt") == {"hub", "paris"}

    with w.store.write() as tx:
        tx.patch("rsyncGlobalParameters", {"syncEverywhere": True})
        tx.put(
            {
                "_id": "synctarget/renders",
                "name": "renders",
                "paths": ["/renders/**"],
                "sites": ["tokyo"],
            }
        )
    assert w.reconcile() is False

    assert holders(w, "/misc/e.txt") == {"hub", *SITES}
    assert holders(w, "/renders/x.exr") == {"hub", "paris", "tokyo"}


def test_a_volume_with_reception_disabled_receives_nothing(world: WorldFactory) -> None:
    w: World = world("paris", "london")
    w.volume("london", enableReception=False)
    w.publish("paris", "/f", b"f")

    assert w.reconcile() is False

    assert holders(w, "/f") == {"hub", "paris"}
