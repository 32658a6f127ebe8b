"""apply / diff / get / delete on a real store (SQLite and PostgreSQL).

Round trips, idempotence (a second apply changes no row, not even `time`), dry runs,
prune ownership, users' passwords, status keys, and the work queues following a change of
desired state.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from reconciler.core.kinds import KINDS, Kind
from reconciler.services import applier
from reconciler.services.declarative import to_yaml
from reconciler.services.manifests import ManifestError, load
from reconciler.store import Store
from reconciler.store.schema import applied, file_sites
from tests.manifests.helpers import CHEAP, apply, doc, docs, snapshot, volume, write

DEMO = Path(__file__).resolve().parents[2] / "manifests" / "demo"
DEMO_ENV = {"SPCTL_DEMO_ALICE_PASSWORD": "alice-pw", "SPCTL_DEMO_BOB_PASSWORD": "bob-pw"}


def apply_demo(store: Store, env: dict[str, str] | None = None, now: int = 1000) -> list[str]:
    manifests = load(DEMO, env=env or DEMO_ENV, variables={"SPCTL_HOME": "/data/home"})
    outcomes = applier.apply(
        store, manifests, dry_run=False, prune=False, now=now, author="tester", passwords=CHEAP
    )
    return [f"{o.ref} {o.action.value}" for o in outcomes]


def dump_everything(store: Store, path: Path) -> Path:
    items = [obj for info in KINDS.values() for obj in applier.get(store, info)]
    path.write_text(yaml.safe_dump_all(items, sort_keys=False, explicit_start=True))
    return path


def test_demo_tree_applies_then_only_unchanged_and_no_row_changes(store: Store) -> None:
    first = apply_demo(store)
    assert first[0] == "globalparameters/rsyncGlobalParameters created"
    assert "volume/montreal created" in first and "user/bob created" in first
    assert len(first) == 11
    before = snapshot(store)
    second = apply_demo(store, now=99_999)
    assert second == [line.replace("created", "unchanged") for line in first]
    assert snapshot(store) == before  # not even `time` moved


def test_get_yaml_applies_back_unchanged(store: Store, tmp_path: Path) -> None:
    apply_demo(store)
    before = snapshot(store)
    dumped = dump_everything(store, tmp_path / "live.yaml")
    lines = apply(store, dumped, now=5000)
    assert len(lines) == 11 and all(line.endswith(" unchanged") for line in lines)
    assert snapshot(store) == before
    hub = applier.get(store, KINDS[Kind.HUB], "hub")[0]
    assert hub["spec"] == {
        "url": "/data/home/demo/hub/",
        "identityFile": "",
        "knownHosts": "",
        "rsync_args": "",
        "rsync_env": "",
    }


def test_defaults_and_status_are_visible(store: Store, tmp_path: Path) -> None:
    apply(store, write(tmp_path / "v.yaml", volume("paris")), now=1234)
    with store.write() as tx:  # what the reconciler writes on a volume
        tx.patch("volume/paris", {"agentStatus": "on", "last_scan": 77})
    [paris] = applier.get(store, KINDS[Kind.VOLUME], "paris")
    assert paris["spec"]["syncAmountReception"] == 1000
    assert paris["spec"]["enableDiscoveryDeletedFiles"] is True
    assert paris["status"] == {
        "time": 1234,
        "author": "tester",
        "agentStatus": "on",
        "last_scan": 77,
    }
    # status is read-only: applying the same manifest ignores it, and keeps it
    assert apply(store, tmp_path / "v.yaml", now=2000) == ["volume/paris unchanged"]
    (tmp_path / "v.yaml").write_text(to_yaml(paris))
    assert apply(store, tmp_path / "v.yaml", now=2000) == ["volume/paris unchanged"]


def test_configured_updates_spec_keeps_status_and_sets_time(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "v.yaml", volume("paris"))
    apply(store, path, now=1000)
    with store.write() as tx:
        tx.patch("volume/paris", {"agentStatus": "on"})
    write(path, volume("paris", syncAmountReception=50, enableEmission="false"))
    assert apply(store, path, now=2000) == ["volume/paris configured"]
    with store.read() as tx:
        doc = tx.get("volume/paris")
    assert doc is not None
    assert doc["syncAmountReception"] == 50 and doc["enableEmission"] is False
    assert doc["agentStatus"] == "on" and doc["time"] == 2000 and doc["author"] == "tester"
    assert doc["name"] == "paris"


def test_dry_run_writes_nothing(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "v.yaml", volume("paris") + "---\n" + volume("london"))
    before = snapshot(store)
    assert apply(store, path, dry_run=True) == ["volume/paris created", "volume/london created"]
    assert snapshot(store) == before
    apply(store, path)
    write(path, volume("paris", enabled="false"))
    applied_once = snapshot(store)
    lines = apply(store, path, dry_run=True, prune=True)
    assert lines == ["volume/paris configured", "volume/london pruned"]
    assert snapshot(store) == applied_once


def test_prune_removes_only_what_apply_owns(store: Store, tmp_path: Path) -> None:
    target = doc("SyncTarget", "all", "{paths: ['/**'], everywhere: true}")
    path = write(tmp_path / "t.yaml", docs(volume("paris"), volume("london"), target))
    apply(store, path)
    with store.write() as tx:  # created through the API, never by apply
        tx.put({"_id": "volume/tokyo", "name": "tokyo", "url": "/srv/tokyo/"})
        tx.put({"_id": "synctarget/api_made", "name": "api_made", "paths": ["/x/**"]})
    write(path, volume("paris"))
    assert apply(store, path) == ["volume/paris unchanged"]  # no --prune: nothing removed
    with store.read() as tx:
        assert tx.existing(["volume/london", "synctarget/all"]) == {
            "volume/london",
            "synctarget/all",
        }
    assert apply(store, path, prune=True) == [
        "volume/paris unchanged",
        "synctarget/all pruned",
        "volume/london pruned",
    ]
    with store.read() as tx:
        assert tx.existing(
            ["volume/london", "synctarget/all", "volume/tokyo", "synctarget/api_made"]
        ) == {"volume/tokyo", "synctarget/api_made"}
        owned = {r[0] for r in tx.conn.execute(sa.select(applied.c.id))}
    assert owned == {"volume/paris"}
    assert apply(store, path, prune=True) == ["volume/paris unchanged"]


def test_an_object_declared_in_the_tree_is_owned_even_if_the_api_made_it(
    store: Store, tmp_path: Path
) -> None:
    with store.write() as tx:
        tx.put({"_id": "volume/paris", "name": "paris", "url": "/srv/paris/"})
    path = write(tmp_path / "v.yaml", volume("paris") + "---\n" + volume("rome"))
    assert apply(store, path) == ["volume/paris unchanged", "volume/rome created"]
    write(path, volume("rome"))
    assert apply(store, path, prune=True) == ["volume/rome unchanged", "volume/paris pruned"]


def test_deleting_an_object_forgets_its_ownership(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "v.yaml", volume("paris"))
    apply(store, path)
    assert applier.delete(store, KINDS[Kind.VOLUME], "paris") is True
    assert applier.delete(store, KINDS[Kind.VOLUME], "paris") is False
    with store.read() as tx:
        assert tx.conn.execute(sa.select(applied.c.id)).all() == []
    with store.write() as tx:  # the same id, re-created through the API
        tx.put({"_id": "volume/paris", "name": "paris", "url": "/srv/paris/"})
    write(path, volume("rome"))
    assert apply(store, path, prune=True) == ["volume/rome created"]


def test_users_passwords(store: Store, tmp_path: Path) -> None:
    spec = "{class: admin, email: alice@example.com, passwordFromEnv: SPCTL_TEST_PASSWORD}"
    path = write(tmp_path / "u.yaml", doc("User", "alice", spec))
    assert apply(store, path) == ["user/alice created"]
    with store.read() as tx:
        stored = tx.get("@alice")
    assert stored is not None and stored["username"] == "alice" and stored["class"] == "admin"
    first_hash = stored["password"]
    assert first_hash.startswith("$argon2id$") and CHEAP.verify(first_hash, "s3cret")
    before = snapshot(store)
    assert apply(store, path, now=5000) == ["user/alice unchanged"]  # verified, not rehashed
    assert snapshot(store) == before
    # a new value of the variable: configured, and the new hash verifies
    outcomes = applier.apply(
        store,
        load(path, env={"SPCTL_TEST_PASSWORD": "n3w"}, variables={}),
        dry_run=False,
        prune=False,
        now=6000,
        author="t",
        passwords=CHEAP,
    )
    assert [o.action.value for o in outcomes] == ["configured"]
    with store.read() as tx:
        stored = tx.get("@alice")
    assert stored is not None and CHEAP.verify(stored["password"], "n3w")
    # neither passwordHash nor passwordFromEnv: an existing user keeps its password
    write(path, doc("User", "alice", "{class: admin, email: alice@example.com}"))
    assert apply(store, path) == ["user/alice unchanged"]
    # a legacy hash is stored as given
    legacy = "{class: admin, email: a@example.com, passwordHash: 5f4dcc3b5aa765d61d8327deb882cf99}"
    write(path, doc("User", "alice", legacy))
    assert apply(store, path) == ["user/alice configured"]
    with store.read() as tx:
        stored = tx.get("@alice")
    assert stored is not None and stored["password"] == "5f4dcc3b5aa765d61d8327deb882cf99"
    [shown] = applier.get(store, KINDS[Kind.USER], "alice")
    assert "password" not in repr(shown).lower().replace("passwordhash", "")
    assert "5f4dcc3b" not in repr(shown)


def test_a_synctarget_change_rederives_the_queues(store: Store, tmp_path: Path) -> None:
    tree = write(
        tmp_path / "t.yaml",
        docs(
            doc("Hub", "hub", "{url: /srv/hub/}"),
            volume("paris"),
            volume("london"),
            doc("SyncTarget", "renders", '{paths: ["/renders/**"], sites: [london]}'),
        ),
    )
    apply(store, tree)
    with store.write() as tx:
        tx.insert(
            {
                "_id": "/renders/a.exr",
                "origin": "paris",
                "time": 10,
                "file_size": 4,
                "synced_hub": 20,
            }
        )

    def wanted_on_london() -> int:
        with store.read() as tx:
            return int(
                tx.conn.execute(
                    sa.select(file_sites.c.wanted).where(
                        file_sites.c.file_id == "/renders/a.exr", file_sites.c.site == "london"
                    )
                ).scalar_one_or_none()
                or 0
            )

    assert wanted_on_london() == 1
    tree.write_text(tree.read_text().replace("sites: [london]", "excludeSites: [london]"))
    assert "synctarget/renders configured" in apply(store, tree)
    assert wanted_on_london() == 0


def test_diff_shows_changes_only(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "v.yaml", volume("paris"))
    apply(store, path)
    assert applier.diff(store, load(path, env={}, variables={}), prune=False, now=1) == []
    write(path, volume("paris", syncAmountEmission=5) + "---\n" + volume("rome"))
    outcomes = applier.diff(store, load(path, env={}, variables={}), prune=False, now=1)
    assert [(o.ref, o.action.value) for o in outcomes] == [
        ("volume/paris", "configured"),
        ("volume/rome", "created"),
    ]
    assert "-  syncAmountEmission: 1000\n+  syncAmountEmission: 5\n" in outcomes[0].diff
    assert outcomes[0].diff.startswith("--- live/volume/paris\n+++ manifests/volume/paris\n")
    assert "+  url: /srv/rome/" in outcomes[1].diff


def test_prune_with_an_empty_tree_is_refused(store: Store, tmp_path: Path) -> None:
    apply(store, write(tmp_path / "a" / "v.yaml", volume("paris")))
    (tmp_path / "empty").mkdir()
    before = snapshot(store)
    with pytest.raises(ManifestError, match="refusing to --prune every applied object"):
        apply(store, tmp_path / "empty", prune=True)
    assert apply(store, tmp_path / "empty") == []
    assert snapshot(store) == before


def test_configured_writes_the_identity_keys(store: Store, tmp_path: Path) -> None:
    with store.write() as tx:
        tx.put({"_id": "volume/paris", "url": "/srv/paris/"})
    assert apply(store, write(tmp_path / "v.yaml", volume("paris", enabled="false"))) == [
        "volume/paris configured"
    ]
    with store.read() as tx:
        stored = tx.get("volume/paris")
    assert stored is not None and stored["name"] == "paris" and stored["enabled"] is False


def test_concurrent_applies_of_a_new_tree_both_succeed(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "t.yaml", docs(*(volume(f"site{i}") for i in range(20))))
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(apply(store, path))
        except BaseException as exc:  # reported below with the test's failure
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    actions = sorted({line.split()[1] for line in results[0]}) + sorted(
        {line.split()[1] for line in results[1]}
    )
    assert sorted(actions) == ["created", "unchanged"]
