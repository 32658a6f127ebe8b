"""Document transactions: read and write JSON objects and keep the derived rows in step.

A `Tx` wraps one database transaction. Every write of a file document recomputes that
file's `file_sites` rows (`reconciler.core.desired.site_rows`) and the `site_counts` deltas (with
the per-minute activity samples of `reconciler.store.samples`) in the same transaction, so
the work queues never disagree with the documents. A write that changes the configuration
fingerprint re-derives the rows of every file, in batches.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from reconciler.core.config import SyncConfig
from reconciler.core.desired import SiteRow, site_rows, volume_scope
from reconciler.core.domain import (
    NodeKind,
    SiteState,
    as_number,
    attempts_key,
    error_key,
    last_attempt_key,
    node_kind,
    synced_key,
    syncing_key,
)
from reconciler.store import samples, sql
from reconciler.store.schema import file_sites, meta, nodes, site_counts

Doc = dict[str, Any]
BATCH = 2000
_DERIVED = (
    "wanted", "state", "pending", "ready", "failed", "removal",
    "next_retry", "priority", "time", "size", "origin",
)  # fmt: skip


PROMOTED_KEYS = frozenset({"_id", "#parent", "origin", "author", "time"})


def node_columns(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The promoted, indexed columns of a document (read from `PROMOTED_KEYS`)."""
    node_id = str(doc["_id"])
    parent = doc.get("#parent")
    origin = doc.get("origin")
    author = doc.get("author")
    time = as_number(doc.get("time"))
    return {
        "id": node_id,
        "kind": node_kind(node_id).value,
        "parent": parent if isinstance(parent, str) else None,
        "origin": origin if isinstance(origin, str) else None,
        "author": author if isinstance(author, str) else None,
        "time": int(time) if time is not None and abs(time) < 2**62 else None,
        "doc": dict(doc),
    }


def _row_values(row: SiteRow) -> dict[str, Any]:
    """A row as stored, by column name (the bulk insert path)."""
    return dict(zip(_ROW_NAMES, _row_tuple(row), strict=True))


_JSON_PATH_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
_ROW_NAMES = ("file_id", "site", *_DERIVED)
_WANTED, _STATE, _SIZE = (_ROW_NAMES.index(n) for n in ("wanted", "state", "size"))
_DERIVED_AT = tuple(range(2, len(_ROW_NAMES)))
_SYNCED = SiteState.SYNCED.value
_ROWS_SQL = f"SELECT {', '.join(_ROW_NAMES)} FROM file_sites WHERE file_id"
_SITE_ROWS_SQL = f"SELECT {', '.join(_ROW_NAMES)} FROM file_sites WHERE site = :site AND file_id"


def _row_tuple(row: SiteRow) -> tuple[Any, ...]:
    """A row as stored, in `_ROW_NAMES` order."""
    return (
        row.file_id, row.site, int(row.wanted), row.state.value, int(row.pending),
        int(row.ready), int(row.failed), int(row.removal), row.next_retry, row.priority,
        row.time, row.size, row.origin,
    )  # fmt: skip


class Tx:
    """One transaction on the store. Obtain it from `Store.read()` or `Store.write()`."""

    def __init__(self, conn: sa.Connection, clock: Callable[[], float] = time.time) -> None:
        self.conn = conn
        self.clock = clock  # only dates the activity samples (`reconciler.store.samples`)
        self._config: SyncConfig | None = None
        self._config_touched = False

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

    # ---- reads ---------------------------------------------------------------------------

    def get(self, node_id: str) -> Doc | None:
        row = self.conn.execute(sa.select(nodes.c.doc).where(nodes.c.id == node_id)).first()
        return dict(row[0]) if row else None

    def get_many(self, ids: Sequence[str], *, for_update: bool = False) -> list[Doc | None]:
        """Documents in the order asked (None where missing).

        `for_update` locks the rows until the transaction ends (PostgreSQL; SQLite's write
        transactions are already exclusive), so read-modify-write never loses an update.
        """
        found: dict[str, Doc] = {}
        unique = list(dict.fromkeys(ids))
        lock = " ORDER BY id FOR UPDATE" if for_update and self.dialect == "postgresql" else ""
        for start in range(0, len(unique), BATCH):
            chunk = unique[start : start + BATCH]
            for node_id, doc in self._select_in("SELECT id, doc FROM nodes WHERE id", chunk, lock):
                found[node_id] = json.loads(doc) if isinstance(doc, str) else dict(doc)
        return [dict(found[i]) if i in found else None for i in ids]

    def lock(self, ids: Sequence[str]) -> None:
        """Lock these documents until the transaction ends, in one pass in `_id` order
        (PostgreSQL; SQLite's write transactions are already exclusive): later reads and
        writes of them in this transaction, in any order, then wait for no one."""
        if self.dialect == "postgresql" and ids:
            for start in range(0, len(ids), BATCH):
                chunk = list(ids[start : start + BATCH])
                self._select_in("SELECT id FROM nodes WHERE id", chunk, " ORDER BY id FOR UPDATE")

    def existing(self, ids: Iterable[str]) -> set[str]:
        unique = list(dict.fromkeys(ids))
        out: set[str] = set()
        for start in range(0, len(unique), BATCH):
            chunk = unique[start : start + BATCH]
            out.update(r[0] for r in self._select_in("SELECT id FROM nodes WHERE id", chunk))
        return out

    def _select_in(self, head: str, ids: Sequence[str], tail: str = "") -> list[Any]:
        """`head IN (ids) tail` through the driver (see `reconciler.store.sql`)."""
        clause, params = sql.in_ids(self.conn, ids)
        return sql.execute(self.conn, f"{head}{clause}{tail}", params)

    def iter_docs(self, kind: NodeKind | None = None, batch: int = BATCH) -> Iterator[Doc]:
        """Stream documents in `_id` order (keyset paging: constant memory)."""
        last: str | None = None
        while True:
            query = sa.select(nodes.c.id, nodes.c.doc).order_by(nodes.c.id).limit(batch)
            if kind is not None:
                query = query.where(nodes.c.kind == kind.value)
            if last is not None:
                query = query.where(nodes.c.id > last)
            rows = self.conn.execute(query).all()
            if not rows:
                return
            for _, doc in rows:
                yield dict(doc)
            last = rows[-1][0]

    def config(self) -> SyncConfig:
        if self._config is None:
            docs = self.conn.execute(
                sa.select(nodes.c.doc).where(nodes.c.kind == NodeKind.CONFIG.value)
            )
            self._config = SyncConfig.from_docs(dict(r[0]) for r in docs)
        return self._config

    def meta_get(self, key: str) -> str | None:
        row = self.conn.execute(sa.select(meta.c.value).where(meta.c.key == key)).first()
        return row[0] if row else None

    def meta_set(self, key: str, value: str) -> None:
        self._upsert(meta, [{"key": key, "value": value}], ["key"], {"value": None})

    # ---- writes --------------------------------------------------------------------------

    def insert(self, doc: Mapping[str, Any]) -> bool:
        """Insert one document; False (and nothing written) if its `_id` exists."""
        return self.insert_many([doc])[0]

    def insert_many(self, docs: Sequence[Mapping[str, Any]]) -> list[bool]:
        ids = [str(d["_id"]) for d in docs]
        taken = self.existing(ids)
        fresh: dict[str, Mapping[str, Any]] = {}
        result = []
        for node_id, doc in zip(ids, docs, strict=True):
            ok = node_id not in taken and node_id not in fresh
            result.append(ok)
            if ok:
                fresh[node_id] = doc
        if fresh:
            self._insert_rows(list(fresh.values()))
            self._after_write(list(fresh.values()), removed=[])
        return result

    def put(self, doc: Mapping[str, Any]) -> None:
        """Insert or replace a whole document."""
        self.put_many([doc])

    def put_many(self, docs: Sequence[Mapping[str, Any]]) -> None:
        by_id = {str(d["_id"]): d for d in docs}
        taken = self.existing(by_id)
        new = [d for i, d in by_id.items() if i not in taken]
        if new:
            self._insert_rows(new)
        self._update_rows([d for i, d in by_id.items() if i in taken])
        self._after_write(list(by_id.values()), removed=[])

    def update_many(
        self, docs: Sequence[Mapping[str, Any]], *, changed_keys: Collection[str] | None = None
    ) -> None:
        """`put_many` for documents read in this transaction (they exist: no lookup).

        `changed_keys`, when given, is every key the caller set or removed on them: the
        write then skips the indexed columns if none of their keys changed, and
        re-derives only one volume's row when the keys are that volume's own
        (`desired.volume_scope`: a reception's outcome).
        """
        written = list({str(d["_id"]): d for d in docs}.values())
        indexed = changed_keys is None or not PROMOTED_KEYS.isdisjoint(changed_keys)
        self._update_rows(written, indexed=indexed)
        self._after_write(written, removed=[], changed_keys=changed_keys)

    def _insert_rows(self, docs: Sequence[Mapping[str, Any]]) -> None:
        """Insert new documents through the driver (SQLAlchemy's per-row parameter
        processing cost as much as the database's work on a publish of 1,000 files)."""
        doc = "CAST(:doc AS jsonb)" if self.dialect == "postgresql" else ":doc"
        rows = [node_columns(d) for d in docs]
        self._executemany(
            f"INSERT INTO nodes (id, kind, parent, origin, author, time, doc) "
            f"VALUES (:id, :kind, :parent, :origin, :author, :time, {doc})",
            [(r["id"], r["kind"], r["parent"], r["origin"], r["author"], r["time"],
              json.dumps(r["doc"])) for r in rows],
        )  # fmt: skip

    def _update_rows(self, docs: Sequence[Mapping[str, Any]], *, indexed: bool = True) -> None:
        """Rewrite existing documents; `indexed=False`: their promoted columns are unchanged."""
        if not docs:
            return
        rows = [node_columns(d) for d in docs]
        if self.dialect == "postgresql":  # compares old and new values itself (HOT updates)
            self._executemany(
                "UPDATE nodes SET kind = :kind, parent = :parent, origin = :origin, "
                "author = :author, time = :time, doc = CAST(:doc AS jsonb) WHERE id = :id",
                [(r["kind"], r["parent"], r["origin"], r["author"], r["time"],
                  json.dumps(r["doc"]), r["id"]) for r in rows],
            )  # fmt: skip
            return
        # SQLite rewrites the entries of every index over a column an UPDATE sets, equal or
        # not: the document alone, then the indexed columns of the rows where they differ
        self._executemany(
            "UPDATE nodes SET doc = :doc WHERE id = :id",
            [(json.dumps(r["doc"]), r["id"]) for r in rows],
        )
        if indexed:
            self._executemany(
                "UPDATE nodes SET kind = :kind, parent = :parent, origin = :origin, "
                "author = :author, time = :time WHERE id = :id AND (kind IS NOT :kind "
                "OR parent IS NOT :parent OR origin IS NOT :origin OR author IS NOT :author "
                "OR time IS NOT :time)",
                [(r["kind"], r["parent"], r["origin"], r["author"], r["time"], r["id"])
                 for r in rows],
            )  # fmt: skip

    def patch(self, node_id: str, changes: Mapping[str, Any]) -> Doc | None:
        """Set keys (a None value deletes the key); return the new document or None."""
        return self.patch_many({node_id: changes}).get(node_id)

    def patch_many(self, changes: Mapping[str, Mapping[str, Any]]) -> dict[str, Doc]:
        current = self.get_many(list(changes), for_update=True)
        updated: dict[str, Doc] = {}
        for node_id, doc in zip(changes, current, strict=True):
            if doc is None:
                continue
            for key, value in changes[node_id].items():
                if key == "_id":
                    continue
                if value is None:
                    doc.pop(key, None)
                else:
                    doc[key] = value
            updated[node_id] = doc
        if updated:
            self.put_many(list(updated.values()))
        return updated

    def delete(self, node_id: str) -> bool:
        return self.delete_many([node_id])[0]

    def delete_many(self, ids: Sequence[str]) -> list[bool]:
        taken = self.existing(ids)
        gone = [i for i in dict.fromkeys(ids) if i in taken]
        for start in range(0, len(gone), BATCH):
            chunk = gone[start : start + BATCH]
            removed_docs = [d for d in self.get_many(chunk) if d is not None]
            self.conn.execute(nodes.delete().where(nodes.c.id.in_(chunk)))
            self._after_write([], removed=removed_docs)
        seen: set[str] = set()
        out = []
        for i in ids:
            out.append(i in taken and i not in seen)
            seen.add(i)
        return out

    def mark_syncing(self, site: str, file_ids: Sequence[str], now: int) -> None:
        """Set `syncing_<site>` = now on claimed files: the reconciler's hot path.

        Equivalent to `patch_many({f: {syncing_<site>: now}})` for files with a wanted row on
        `site` (a claimed row always is), without rewriting documents in Python: the key is
        set with the database's JSON function and the row's state becomes `syncing` (the
        state rule gives `syncing` precedence, and nothing else in the row depends on it).
        """
        if not _JSON_PATH_SAFE.match(site):  # the key goes into a JSON path literal
            raise ValueError(f"bad site name {site!r}")
        key = syncing_key(site)
        for start in range(0, len(file_ids), BATCH):
            chunk = list(file_ids[start : start + BATCH])
            clause, params = sql.in_ids(self.conn, chunk)
            rows = sql.execute(
                self.conn,
                f"SELECT file_id, state, size FROM file_sites "
                f"WHERE site = :site AND wanted = 1 AND file_id{clause}",
                {"site": site, **params},
            )
            ids = [r[0] for r in rows]
            if not ids:
                continue
            clause, params = sql.in_ids(self.conn, ids)
            if self.dialect == "postgresql":
                new_doc = "jsonb_set(doc, ARRAY[:key]::text[], to_jsonb(CAST(:now AS bigint)))"
                key_arg = key
            else:
                new_doc, key_arg = "json_set(doc, :key, :now)", f'$."{key}"'
            sql.execute(self.conn, f"UPDATE nodes SET doc = {new_doc} WHERE id{clause}",
                        {"key": key_arg, "now": now, **params})  # fmt: skip
            sql.execute(
                self.conn,
                f"UPDATE file_sites SET state = :state WHERE site = :site AND file_id{clause}",
                {"state": SiteState.SYNCING.value, "site": site, **params},
            )
            deltas: Counter[tuple[str, str, str]] = Counter()
            for _, state, size in rows:
                deltas[(site, state, "files")] -= 1
                deltas[(site, state, "bytes")] -= size
                deltas[(site, SiteState.SYNCING.value, "files")] += 1
                deltas[(site, SiteState.SYNCING.value, "bytes")] += size
            self._apply_counts(deltas)

    def mark_synced(self, site: str, planned: Mapping[str, int], now: int) -> list[str]:
        """Record verified receptions on volume `site`: the reconciler's other hot path.

        `planned` maps each verified file to the `time` its batch was planned for. For a
        file whose `time` is still that, below `now`, that is not `deleted` and has its row
        on `site`, this equals `patch_many` of `planning.file_changes`' delivered outcome
        (`synced_<site>` = now, `syncing_`, `syncError_`, `syncLastAttempt_`,
        `syncAttempts_` removed) without decoding the documents: the keys change through the
        database's JSON functions and the row's derivation is known (state `synced`, not
        pending, not failed; `wanted`, `ready`, `removal` and the rest read none of these
        keys). Returns the files left to the general path (any other case, the hub).
        """
        cfg = self.config()
        if site not in cfg.volumes or site == cfg.hub_name or not _JSON_PATH_SAFE.match(site):
            return list(planned)
        ids = list(planned)
        rest: list[str] = []
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            done = self._synced_chunk(site, chunk, planned, now)
            rest.extend(i for i in chunk if i not in done)
        return rest

    def _synced_chunk(
        self, site: str, ids: list[str], planned: Mapping[str, int], now: int
    ) -> set[str]:
        clause, params = sql.in_ids(self.conn, ids)
        if self.dialect == "postgresql":
            deleted, lock = "n.doc -> 'deleted' = 'true'::jsonb", " ORDER BY n.id FOR UPDATE OF n"
        else:
            deleted, lock = "json_type(n.doc, '$.deleted') = 'true'", ""
        rows = sql.execute(
            self.conn,
            f"SELECT n.id, n.time, {deleted}, fs.wanted, fs.state, fs.size, fs.failed, "
            f"fs.next_retry FROM nodes n JOIN file_sites fs ON fs.file_id = n.id "
            f"AND fs.site = :site WHERE n.id{clause}{lock}",
            {"site": site, **params},
        )
        fast = [r for r in rows if r[1] is not None and r[1] == planned[r[0]] < now and not r[2]]
        if not fast:
            return set()
        done = [r[0] for r in fast]
        clause, params = sql.in_ids(self.conn, done)
        removed = [syncing_key(site), error_key(site), last_attempt_key(site), attempts_key(site)]
        if self.dialect == "postgresql":
            new_doc = (
                "jsonb_set(doc - CAST(:removed AS text[]), ARRAY[:key]::text[], "
                "to_jsonb(CAST(:now AS bigint)))"
            )
            args: dict[str, Any] = {"removed": removed, "key": synced_key(site), "now": now}
        else:
            paths = ", ".join(f":removed_{i}" for i in range(len(removed)))
            new_doc = f"json_set(json_remove(doc, {paths}), :key, :now)"
            args = {f"removed_{i}": f'$."{k}"' for i, k in enumerate(removed)}
            args.update(key=f'$."{synced_key(site)}"', now=now)
        sql.execute(
            self.conn, f"UPDATE nodes SET doc = {new_doc} WHERE id{clause}", {**args, **params}
        )
        moved = [r[0] for r in fast if r[4] != _SYNCED]
        if moved:  # not pending: `synced_` is now >= time, whatever it was
            clause, params = sql.in_ids(self.conn, moved)
            sql.execute(
                self.conn,
                "UPDATE file_sites SET state = :state, pending = 0 "
                f"WHERE site = :site AND file_id{clause}",
                {"state": _SYNCED, "site": site, **params},
            )
        cleared = [r[0] for r in fast if r[6] or r[7] is not None]
        if cleared:
            clause, params = sql.in_ids(self.conn, cleared)
            sql.execute(
                self.conn,
                f"UPDATE file_sites SET failed = 0, next_retry = NULL "
                f"WHERE site = :site AND file_id{clause}",
                {"site": site, **params},
            )
        deltas: Counter[tuple[str, str, str]] = Counter()
        delivered: Counter[tuple[str, str]] = Counter()
        for _, _, _, wanted, state, size, _, _ in fast:
            if wanted and state != _SYNCED:
                deltas[(site, state, "files")] -= 1
                deltas[(site, state, "bytes")] -= size
                deltas[(site, _SYNCED, "files")] += 1
                deltas[(site, _SYNCED, "bytes")] += size
                delivered[(site, "files")] += 1
                delivered[(site, "bytes")] += size
        self._apply_counts(deltas, delivered)
        return set(done)

    # ---- derived rows --------------------------------------------------------------------

    def _after_write(
        self,
        written: Sequence[Mapping[str, Any]],
        removed: Sequence[Mapping[str, Any]],
        changed_keys: Collection[str] | None = None,
    ) -> None:
        touched = [d for d in (*written, *removed) if node_kind(str(d["_id"])) is NodeKind.CONFIG]
        if touched:
            # Re-derivation waits for the end of the transaction (`settle`): an apply that
            # writes ten objects re-derives the file rows once, not ten times.
            self._config = None
            self._config_touched = True
        files = [d for d in written if node_kind(str(d["_id"])) is NodeKind.FILE]
        gone = [str(d["_id"]) for d in removed if node_kind(str(d["_id"])) is NodeKind.FILE]
        if files or gone:
            only = None  # the keys of one volume alone changed: only its rows can move
            if changed_keys is not None and not touched and not gone:
                only = volume_scope(changed_keys, self.config())
            self._reindex(files, gone, only)

    def _reindex(
        self, docs: Sequence[Mapping[str, Any]], gone: Sequence[str], only: str | None = None
    ) -> None:
        """Bring the rows of these files in line with their documents (tuples in
        `_ROW_NAMES` order: this runs on every write, for every site of every file);
        `only` = a volume: that volume's rows alone can have changed."""
        cfg = self.config()
        new_rows = {
            (r.file_id, r.site): _row_tuple(r) for d in docs for r in site_rows(d, cfg, only)
        }
        ids = [str(d["_id"]) for d in docs] + list(gone)
        old_rows = self._rows_of(ids, only)
        deltas: Counter[tuple[str, str, str]] = Counter()
        for row, sign in [(r, -1) for r in old_rows.values()] + [(r, 1) for r in new_rows.values()]:
            if row[_WANTED]:
                deltas[(row[1], row[_STATE], "files")] += sign
                deltas[(row[1], row[_STATE], "bytes")] += sign * row[_SIZE]
        delivered: Counter[tuple[str, str]] = Counter()  # a wanted copy became synced
        for key, row in new_rows.items():
            was = old_rows.get(key)
            if was and was[_WANTED] and row[_WANTED] and was[_STATE] != row[_STATE] == _SYNCED:
                delivered[(row[1], "files")] += 1
                delivered[(row[1], "bytes")] += row[_SIZE]
        stale = [k for k in old_rows if k not in new_rows]
        inserts = [r for k, r in new_rows.items() if k not in old_rows]
        # an UPDATE rewrites the entries of every index over a column it sets, equal or
        # not (SQLite): set only the columns that changed, one statement per column set
        updates: dict[tuple[int, ...], list[tuple[Any, ...]]] = {}
        for key, row in new_rows.items():
            before = old_rows.get(key)
            if before is None or before[2:] == row[2:]:
                continue
            changed = tuple(i for i in _DERIVED_AT if before[i] != row[i])
            updates.setdefault(changed, []).append((*(row[i] for i in changed), *key))
        if stale:
            self._executemany(
                "DELETE FROM file_sites WHERE file_id = :file_id AND site = :site", stale
            )
        if inserts:
            self._executemany(
                f"INSERT INTO file_sites ({', '.join(_ROW_NAMES)}) "
                f"VALUES ({', '.join(':' + n for n in _ROW_NAMES)})",
                inserts,
            )
        for changed, rows in updates.items():
            sets = ", ".join(f"{_ROW_NAMES[i]} = :{_ROW_NAMES[i]}" for i in changed)
            self._executemany(
                f"UPDATE file_sites SET {sets} WHERE file_id = :file_id AND site = :site", rows
            )
        self._apply_counts(deltas, delivered)

    def _executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        sql.execute_many(self.conn, statement, rows)

    def _rows_of(
        self, ids: Sequence[str], site: str | None = None
    ) -> dict[tuple[str, str], tuple[Any, ...]]:
        out: dict[tuple[str, str], tuple[Any, ...]] = {}
        head = _ROWS_SQL if site is None else _SITE_ROWS_SQL
        for start in range(0, len(ids), BATCH):
            chunk = list(ids[start : start + BATCH])
            clause, params = sql.in_ids(self.conn, chunk)
            args = params if site is None else {"site": site, **params}
            for row in sql.execute(self.conn, f"{head}{clause}", args):
                out[(row[0], row[1])] = tuple(row)
        return out

    def _apply_counts(
        self,
        deltas: Counter[tuple[str, str, str]],
        delivered: Counter[tuple[str, str]] | None = None,
    ) -> None:
        """Add `deltas` ((site, state, files|bytes) -> change) to `site_counts`; sample the
        sites whose backlog moved or that received `delivered` copies."""
        pairs: dict[tuple[str, str], dict[str, Any]] = {}
        backlog: Counter[tuple[str, str]] = Counter()
        for (site, state, what), value in deltas.items():
            entry = pairs.setdefault(
                (site, state), {"site": site, "state": state, "files": 0, "bytes": 0}
            )
            entry[what] += value
            if state != _SYNCED:
                backlog[(site, what)] += value
        rows = [r for r in pairs.values() if r["files"] or r["bytes"]]
        if rows:
            self._upsert(site_counts, rows, ["site", "state"], {"files": "+", "bytes": "+"})
        got = delivered or Counter()
        arrived = {site: (got[(site, "files")], got[(site, "bytes")]) for site, _ in got}
        moved = {site for (site, _), value in backlog.items() if value} | set(arrived)
        samples.record(self.conn, moved, arrived, int(self.clock() * 1000))

    def _upsert(
        self,
        table: sa.Table,
        rows: list[dict[str, Any]],
        keys: list[str],
        update: Mapping[str, str | None],
    ) -> None:
        """INSERT ... ON CONFLICT DO UPDATE; `"+"` adds to the stored value, None replaces."""
        insert = pg_insert if self.dialect == "postgresql" else sqlite_insert
        stmt = insert(table)
        sets = {
            col: (table.c[col] + stmt.excluded[col]) if how == "+" else stmt.excluded[col]
            for col, how in update.items()
        }
        self.conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=sets), rows)

    def settle(self) -> None:
        """Re-derive every file's rows if this transaction changed desired state.

        Called by `Store.write()` before commit; call it yourself to query the work queues
        inside a transaction that has just changed the configuration.
        """
        if not self._config_touched:
            return
        self._config_touched = False
        self._config = None
        if self.meta_get("config_fingerprint") != self.config().fingerprint:
            self.rederive_all()

    def rederive_all(self) -> None:
        """Recompute every file's rows under the current configuration, then the counts."""
        self._config = None
        cfg = self.config()
        batch: list[Doc] = []
        for doc in self.iter_docs(NodeKind.FILE):
            batch.append(doc)
            if len(batch) >= BATCH:
                self._reindex(batch, [])
                batch = []
        if batch:
            self._reindex(batch, [])
        known = set(cfg.sites)
        self.conn.execute(file_sites.delete().where(file_sites.c.site.not_in(known)))
        self.recount()
        self.meta_set("config_fingerprint", cfg.fingerprint)

    def recount(self) -> None:
        """Rebuild `site_counts` from the rows (used after bulk re-derivation)."""
        self.conn.execute(site_counts.delete())
        self.conn.execute(
            site_counts.insert().from_select(
                ["site", "state", "files", "bytes"],
                sa.select(
                    file_sites.c.site,
                    file_sites.c.state,
                    sa.func.count(),
                    sa.func.coalesce(sa.func.sum(file_sites.c.size), 0),
                )
                .where(file_sites.c.wanted == 1)
                .group_by(file_sites.c.site, file_sites.c.state),
            )
        )
        sites = {r[0] for r in self.conn.execute(sa.select(site_counts.c.site).distinct())}
        samples.record(self.conn, sites, {}, int(self.clock() * 1000))
