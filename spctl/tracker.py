"""The tracker a command works on: one interface, two implementations, chosen once.

`connect(db, server)` returns a `LocalTracker` (the store: `--db URL`, `SPCTL_DB`, default
the embedded SQLite file) or a `RemoteTracker` (HTTP to a running `spctl serve`: `--server URL`,
`SPCTL_SERVER`, with the token saved by `spctl login` or `SPCTL_TOKEN`). Commands call its
methods and render what they return; no command asks which one it has.

Decisions:
- Every method returns the JSON-ready value the tracker's routes answer (`/api/status`,
  `/api/declarative/*`...), so both implementations print the same thing.
- Failures become `CliError` here, with the exit code the command documents (1 for "not
  found" and conflicts, 2 otherwise): the error text is the store's or the server's.
- Imports are local to the methods: `spctl get volumes` on SQLite starts without
  SQLAlchemy, pydantic or httpx (`tests/store/test_lite.py`), `--server` without the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Protocol
from urllib.parse import quote

import typer

from spctl.common import fail, load_token

if TYPE_CHECKING:
    from api.client import ApiError, Client
    from reconciler.core.kinds import KindInfo
    from reconciler.services.manifests import Manifest
    from reconciler.store import Store
    from spctl.diff_view import DiffResult, Request

Json = Any  # a JSON-ready value as the API answers it


class Tracker(Protocol):
    """What spctl's commands ask of a tracker (see the module docstring)."""

    def apply(
        self, manifests: Sequence[Manifest], *, dry_run: bool, prune: bool
    ) -> list[tuple[str, str]]:
        """(object ref, action) per object, in apply's order."""

    def diff(self, manifests: Sequence[Manifest], request: Request, *, prune: bool) -> DiffResult:
        """The objects that differ (and the impact when the request asks for it)."""

    def objects(self, info: KindInfo, name: str | None) -> list[Json]:
        """Live objects of a kind as manifests (one or none when `name` is given)."""

    def delete(self, info: KindInfo, name: str) -> bool:
        """Delete one object; False when it did not exist."""

    def status(self) -> list[Json]:
        """Per site: what `spctl status` shows."""

    def workers(self, now: int) -> list[Json]:
        """The reconciler processes."""

    def describe_file(self, path: str) -> Json:
        """One file on every site."""

    def explain(self, path: str, site: str | None, now: int) -> list[Json]:
        """Why the file is, or is not yet, on each site (or on `site`)."""

    def publish(self, body: Json) -> Json:
        """Track a published file (the dam `publish` operation)."""

    def lock(self, path: str) -> None:
        """Lock a file for the caller; CliError (exit 1) when someone else holds it."""

    def unlock(self, path: str) -> None:
        """Release the caller's lock; CliError (exit 1) when there is none to release."""


def connect(db: str | None, server: str | None) -> Tracker:
    """The tracker of `--db` or of `--server` (not both; neither: the default store)."""
    if db and server:
        fail("give either --db or --server, not both")
    if server:
        return RemoteTracker(server.rstrip("/"))
    return LocalTracker(db)


def store_only(server: str | None, command: str) -> None:
    """Commands that run next to the store (`serve`, `run`, `reconcile`, `scan`, `db
    upgrade`) refuse `--server`, with one message."""
    if server:
        fail(f"{command} works on a store (--db), not through --server")


def _objects_path(info: KindInfo, name: str | None = None) -> str:
    path = f"/api/declarative/objects/{info.plural}"
    return path + (f"/{quote(name, safe='')}" if name else "")


# ---- the store -------------------------------------------------------------------------


class LocalTracker:
    """The tracker's services run here, on the store (`--db`)."""

    def __init__(self, db: str | None) -> None:
        self.db = db

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The store, opened for one operation; the default store says which file it is when
        that file is new or holds nothing yet (a first run, or a wrong SPCTL_HOME)."""
        from reconciler.store import Store

        default = self.db is None and not os.environ.get("SPCTL_HOME")
        new = default and _default_store_is_new()
        store = Store.open(self.db)
        try:
            if default and (new or store.is_empty()):
                url = store.display_url
                state = "new, empty" if new else "empty"
                typer.echo(
                    f"spctl: store {url} ({state}; set SPCTL_HOME or --db for another)", err=True
                )
            yield store
        finally:
            store.close()

    def apply(
        self, manifests: Sequence[Manifest], *, dry_run: bool, prune: bool
    ) -> list[tuple[str, str]]:
        from reconciler.core.clock import now_ms
        from reconciler.services import applier
        from reconciler.services.manifests import ManifestError

        with self.store() as store:
            try:
                outcomes = applier.apply(
                    store, manifests, dry_run=dry_run, prune=prune, now=now_ms(), author="spctl"
                )
            except ManifestError as exc:
                fail(str(exc))
        return [(o.ref, o.action.value) for o in outcomes]

    def diff(self, manifests: Sequence[Manifest], request: Request, *, prune: bool) -> DiffResult:
        from reconciler.core.clock import now_ms
        from reconciler.services.manifests import ManifestError
        from spctl import diff_view

        with self.store() as store:
            try:
                return diff_view.compute(store, manifests, request, prune=prune, now=now_ms())
            except ManifestError as exc:
                fail(str(exc))

    def objects(self, info: KindInfo, name: str | None) -> list[Json]:
        """A current SQLite store is read with sqlite3 alone (`reconciler.store.lite`); an
        empty answer from the default store takes the full path, which says which store it
        opened."""
        from reconciler.services.declarative import live_objects
        from reconciler.store.lite import open_current

        reader = open_current(self.db)
        if reader is not None:
            with reader:
                items = live_objects(reader, info, name)
            if items or self.db is not None or os.environ.get("SPCTL_HOME"):
                return items
        from reconciler.services import applier

        with self.store() as store:
            return applier.get(store, info, name)

    def delete(self, info: KindInfo, name: str) -> bool:
        from reconciler.services import applier

        with self.store() as store:
            return applier.delete(store, info, name)

    def _read(self, query: Any) -> Any:
        """The JSON of `query(tx)` in one read transaction; a bad request is the error."""
        from reconciler.services.status import BadRequest, NotFound, to_json

        with self.store() as store, store.read() as tx:
            try:
                return to_json(query(tx))
            except (NotFound, BadRequest) as exc:
                fail(str(exc))

    def status(self) -> list[Json]:
        from reconciler.services.status import site_status

        found: list[Json] = self._read(site_status)
        return found

    def workers(self, now: int) -> list[Json]:
        from reconciler.services.status import worker_status

        found: list[Json] = self._read(lambda tx: worker_status(tx, now))
        return found

    def describe_file(self, path: str) -> Json:
        from reconciler.services.status import describe_file

        return self._read(lambda tx: describe_file(tx, path))

    def explain(self, path: str, site: str | None, now: int) -> list[Json]:
        from reconciler.services.explain import explain

        found: list[Json] = self._read(lambda tx: explain(tx, path, site, now=now))
        return found

    def _dam(self, operation: str, body: Json) -> Json:
        """One `api.dam` operation on the store, as the local user (see `_local_user`)."""
        from api import dam
        from api.errors import ApiFailure
        from api.service import Context
        from reconciler.core.passwords import Passwords

        ctx = Context(user=_local_user(), now=int(time.time() * 1000), passwords=Passwords())
        with self.store() as store:
            try:
                with store.write() as tx:
                    return getattr(dam, operation)(tx, ctx, body).body
            except ApiFailure as exc:
                _dam_failure(exc.status, exc.message)

    def publish(self, body: Json) -> Json:
        return self._dam("publish", body)

    def lock(self, path: str) -> None:
        self._dam("lock", path)

    def unlock(self, path: str) -> None:
        self._dam("unlock", path)


def _dam_failure(status: int, message: str) -> NoReturn:
    """A dam operation refused: exit 1 for not found and conflicts, else 2."""
    fail(message, 1 if status in (404, 409) else 2)


def _local_user() -> Any:
    """Who writes on a store: `SPCTL_AUTHOR`, else the login name of the account running
    spctl; an admin (whoever can open the store file can change it anyway)."""
    import getpass

    from api.deps import User, UserClass

    try:
        name = os.environ.get("SPCTL_AUTHOR") or getpass.getuser()
    except (KeyError, OSError):
        name = "spctl"
    return User(username=name, cls=UserClass.ADMIN, doc={"_id": f"@{name}", "username": name})


def _default_store_is_new() -> bool:
    from reconciler.store.engine import default_db_url

    url = default_db_url()
    path = url.split(":///", 1)[1] if url.startswith("sqlite:///") else ""
    return bool(path) and not Path(path).exists()


# ---- a server ----------------------------------------------------------------------------


class RemoteTracker:
    """A running tracker (`--server`), through `api.client.Client` and the saved token."""

    def __init__(self, server: str) -> None:
        self.server = server

    @contextmanager
    def _client(self) -> Iterator[Client]:
        from api.client import Client

        with Client(self.server, token=load_token(self.server)) as client:
            yield client

    def _call(self, method: str, path: str, body: Json = None, *, missing_ok: bool = False) -> Json:
        """A declarative route; its error message is the one-line error (404: None)."""
        from api.client import ApiError

        try:
            with self._client() as client:
                return client.request(method, path, json=body)
        except ApiError as exc:
            if missing_ok and exc.status == 404:
                return None
            fail(exc.message)

    def _get(self, route: str, params: dict[str, str] | None = None) -> Json:
        """An observability route (`/api/status|workers|describe|explain`)."""
        from api.client import ApiError

        try:
            with self._client() as client:
                return client.request("GET", route, params=params)
        except ApiError as exc:
            fail(exc.message if exc.status == 0 else _answered(self.server, exc))

    def apply(
        self, manifests: Sequence[Manifest], *, dry_run: bool, prune: bool
    ) -> list[tuple[str, str]]:
        from reconciler.services.manifests import wire_body

        body = {**wire_body(manifests), "dryRun": dry_run, "prune": prune}
        reply = self._call("POST", "/api/declarative/apply", body)
        return [(r["object"], r["action"]) for r in reply["results"]]

    def diff(self, manifests: Sequence[Manifest], request: Request, *, prune: bool) -> DiffResult:
        from reconciler.services.manifests import wire_body
        from spctl import diff_view

        body = {**wire_body(manifests), "prune": prune, "impact": request.impact}
        return diff_view.from_reply(self._call("POST", "/api/declarative/diff", body))

    def objects(self, info: KindInfo, name: str | None) -> list[Json]:
        reply = self._call("GET", _objects_path(info, name), missing_ok=True)
        return list(reply or []) if name is None else [reply] if reply else []

    def delete(self, info: KindInfo, name: str) -> bool:
        return self._call("DELETE", _objects_path(info, name), missing_ok=True) is not None

    def status(self) -> list[Json]:
        found: list[Json] = self._get("/api/status")
        return found

    def workers(self, now: int) -> list[Json]:
        found: list[Json] = self._get("/api/workers")
        return found

    def describe_file(self, path: str) -> Json:
        return self._get("/api/describe/" + quote(path.lstrip("/")))

    def explain(self, path: str, site: str | None, now: int) -> list[Json]:
        found: list[Json] = self._get(
            "/api/explain/" + quote(path.lstrip("/")), {"site": site} if site else None
        )
        return found

    def publish(self, body: Json) -> Json:
        from api.client import ApiError

        try:
            with self._client() as client:
                return client.publish(body)
        except ApiError as exc:
            _dam_failure(exc.status, exc.message)

    def lock(self, path: str) -> None:
        if not self._lock("lock", path):
            fail(f"{path} is locked by someone else", 1)

    def unlock(self, path: str) -> None:
        if not self._lock("unlock", path):
            fail(f"{path} is not locked, or locked by someone else", 1)

    def _lock(self, operation: str, path: str) -> bool:
        from api.client import ApiError

        try:
            with self._client() as client:
                done: bool = getattr(client, operation)(path)
                return done
        except ApiError as exc:
            _dam_failure(exc.status, exc.message)


def _answered(server: str, exc: ApiError) -> str:
    return f"{server} answered {exc.status}: {exc.message}"
