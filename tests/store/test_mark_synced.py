"""`Tx.mark_synced` (a reception's verified copies) leaves what the general write leaves.

The reconciler records a reception's verified files through `mark_synced` and the others
through the general path (`planning.file_changes`, then `patch`); a reference store takes
the general path for every file. Documents, indexed columns, rows and counts must agree,
on SQLite and PostgreSQL, and stay what a fresh derivation gives.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.core.domain import Direction
from reconciler.core.planning import FileFacts, file_changes
from reconciler.store import Store
from tests.store.test_store_contract import _full_state, assert_derived_from_documents, seed

NOW = 99
FILES: list[dict[str, object]] = [
    {"_id": "/f0", "origin": "paris", "time": 10, "file_size": 3, "synced_hub": 10,
     "syncing_tokyo": 50},  # the usual case
    {"_id": "/f1", "origin": "paris", "time": 10, "synced_hub": 10, "syncing_tokyo": 50,
     "syncError_tokyo": 23, "syncLastAttempt_tokyo": 11, "syncAttempts_tokyo": 2},  # retried
    {"_id": "/f2", "origin": "paris", "time": 10, "synced_hub": 10, "deleted": True,
     "syncing_tokyo": 50},  # deleted meanwhile: its row may become a removal
    {"_id": "/f3", "origin": "paris", "time": 20, "synced_hub": 10, "syncing_tokyo": 50},
    {"_id": "/f4", "origin": "tokyo", "time": 10, "syncing_tokyo": 50},  # tokyo's own
    {"_id": "/f5", "origin": "paris", "time": 10, "synced_hub": 10, "sync_tokyo": False,
     "syncing_tokyo": 50},  # no longer wanted there
    {"_id": "/f6", "origin": "paris", "time": 10.5, "synced_hub": 11, "file_size": 5},
    {"_id": "/f7", "origin": "paris", "time": 500, "synced_hub": 500},  # planned in the future
    {"_id": "/f8", "origin": "paris", "time": 10, "synced_hub": 10, "synced_tokyo": 5,
     "syncing_tokyo": 50, "sync_priority": 7},  # outdated copy replaced
]  # fmt: skip
# the planned time of each verified file (/f3 changed after its batch was planned)
PLANNED = {"/f0": 10, "/f1": 10, "/f2": 10, "/f3": 10, "/f4": 10, "/f5": 10, "/f6": 10,
           "/f7": 500, "/f8": 10, "/missing": 10}  # fmt: skip


def _general(store: Store, ids: list[str]) -> None:
    """What `reconcile._record` does for a verified file outside `mark_synced`."""
    with store.write() as tx:
        docs = tx.get_many(ids, for_update=True)
        facts = FileFacts(size=1, mtime_ms=None, sent_bytes=1)
        changes = {
            doc["_id"]: file_changes(
                doc,
                site="tokyo",
                direction=Direction.RECEPTION,
                planned_time=PLANNED[doc["_id"]],
                facts=facts,
                exit_code=0,
                now=NOW,
            )
            for doc in docs
            if doc is not None
        }
        tx.patch_many(changes)


def test_mark_synced_leaves_what_the_general_path_leaves(store: Store, tmp_path: Path) -> None:
    reference = Store.open(f"sqlite:///{tmp_path / 'reference.db'}")
    for s in (store, reference):
        seed(s, *FILES)
    with store.write() as tx:
        rest = tx.mark_synced("tokyo", PLANNED, NOW)
    assert sorted(rest) == ["/f2", "/f3", "/f7", "/missing"]
    _general(store, rest)
    _general(reference, list(PLANNED))
    assert _full_state(store, len(FILES)) == _full_state(reference, len(FILES))
    assert_derived_from_documents(store, len(FILES))
    with store.read() as tx:
        assert tx.get("/f0") == {"_id": "/f0", "origin": "paris", "time": 10, "file_size": 3,
                                 "synced_hub": 10, "synced_tokyo": NOW}  # fmt: skip
    reference.close()


def test_mark_synced_leaves_the_hub_to_the_general_path(store: Store) -> None:
    seed(store, *FILES)
    with store.write() as tx:
        assert tx.mark_synced("hub", {"/f0": 10}, NOW) == ["/f0"]
        assert tx.mark_synced("nowhere", {"/f0": 10}, NOW) == ["/f0"]
