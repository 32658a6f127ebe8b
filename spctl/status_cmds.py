"""`spctl status`, `spctl describe file PATH`, `spctl explain PATH [--site S]`.

Each command gets the same JSON either from the store (`--db`, through `reconciler.services.status`
and `reconciler.services.explain`) or from a tracker (`--server`, the `/api/status|describe|explain`
routes), then prints it as a table or, with `-o json|yaml`, as is. Imports are local to the
functions that need them: a table from a small store starts without the HTTP client.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer

from reconciler.core.clock import now_ms
from spctl import describe_cmds
from spctl.common import (
    DbOpt,
    OutputOpt,
    ServerOpt,
    Target,
    check_output,
    clean_errors,
    fail,
    load_token,
    print_output,
    target,
)

if TYPE_CHECKING:
    from reconciler.store import Tx


def fetch(t: Target, route: str, local: Callable[[Tx], Any], params: dict[str, str]) -> Any:
    """The JSON of `local(tx)` on the store, or of `route` on the tracker (--server)."""
    if t.server is None:
        from reconciler.services.status import BadRequest, NotFound, to_json

        with t.store() as store, store.read() as tx:
            try:
                return to_json(local(tx))
            except (NotFound, BadRequest) as exc:
                fail(str(exc))
    import httpx

    token = load_token(t.server)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        reply = httpx.get(f"{t.server}{route}", params=params, headers=headers, timeout=60)
    except httpx.HTTPError as exc:
        fail(f"cannot reach {t.server}: {exc}")
    if reply.status_code != 200:
        fail(f"{t.server} answered {reply.status_code}: {reply.text.strip()}")
    return reply.json()


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _yes(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def render_status(sites: list[dict[str, Any]], now: int) -> str:
    from reconciler.services.status import human_age, human_bytes

    if not sites:
        return "No sites configured: apply a Hub and Volumes first (spctl apply -f manifests/)."
    headers = ["SITE", "ROLE", "REACHABLE", "SYNCED", "OUTDATED", "MISSING", "SYNCING",
               "ERROR", "PENDING", "OLDEST PENDING", "LAST SCAN", "LAST EMISSION",
               "LAST RECEPTION"]  # fmt: skip
    rows = []
    for s in sites:
        files = s["files"]
        rows.append(
            [s["site"], s["role"] if s["enabled"] else f"{s['role']} (disabled)",
             _yes(s["reachable"]), *(str(files[k]) for k in
                                     ("synced", "outdated", "missing", "syncing", "error")),
             human_bytes(s["pending_bytes"]), human_age(s["oldest_pending"], now),
             human_age(s["last_scan"], now), human_age(s["last_emission"], now),
             human_age(s["last_reception"], now)]
        )  # fmt: skip
        if s.get("mount_error"):
            rows[-1][2] = "no (not mounted)"
    notes = [f"{s['site']}: NOT MOUNTED: {s['mount_error']}" for s in sites if s.get("mount_error")]
    notes += [
        f"{s['site']}: DELETIONS HELD: {s.get('deletions_held_reason') or s['deletions_held']}"
        for s in sites
        if s.get("deletions_held")
    ]
    return "\n".join([_table(headers, rows), *notes])


def fetch_workers(t: Target, now: int) -> list[dict[str, Any]]:
    from reconciler.services.status import worker_status

    found: list[dict[str, Any]] = fetch(t, "/api/workers", lambda tx: worker_status(tx, now), {})
    return found


def render_workers(workers: list[dict[str, Any]], now: int) -> str:
    """The reconciler processes: `spctl get workers`, and under `spctl status`."""
    from reconciler.services.status import human_age, iso_time

    headers = ["WORKER", "HOST", "PID", "STARTED", "LAST HEARTBEAT", "JOBS", "LEASES"]
    rows = [
        [w["worker"], w["host"], str(w["pid"]), iso_time(w["started"]),
         human_age(w["heartbeat"], now) + ("" if w["alive"] else " (silent)"),
         ",".join(w["jobs"]) or "-", str(w["leases"])]
        for w in workers
    ]  # fmt: skip
    return _table(headers, rows)


def render_file(d: dict[str, Any]) -> str:
    from reconciler.services.status import human_bytes, iso_time

    size = d["file_size"]
    head = [
        f"File:      {d['file_id']}",
        f"Origin:    {d['origin'] or '-'}",
        f"Time:      {iso_time(d['time'])}",
        f"Size:      {human_bytes(size) if size is not None else '-'}",
        f"Priority:  {d['priority']}",
        f"Deleted:   {_yes(d['deleted'])}",
        f"Lock:      {d['lock'] or '-'}",
        "",
    ]
    headers = ["SITE", "ROLE", "WANTED", "STATE", "SYNCED", "SYNCING", "ERROR",
               "LAST ATTEMPT", "NEXT RETRY"]  # fmt: skip
    rows = [
        [s["site"], s["role"], _yes(s["wanted"]), s["state"], iso_time(s["synced"]),
         iso_time(s["syncing"]), str(s["error"]) if s["error"] is not None else "-",
         iso_time(s["last_attempt"]), iso_time(s["next_retry"])]
        for s in d["sites"]
    ]  # fmt: skip
    return "\n".join(head) + _table(headers, rows)


def render_explain(path: str, items: list[dict[str, Any]]) -> str:
    return "\n".join(f"{path} on {e['site']}: {e['summary']}" for e in items)


def register(app: typer.Typer) -> None:
    """Add `status`, `describe file|volume|hub|user|synctarget` and `explain` to `app`."""
    describe = typer.Typer(help="Show one object in detail.", no_args_is_help=True)
    app.add_typer(describe, name="describe")

    @app.command("status")
    @clean_errors
    def status_cmd(db: DbOpt = None, server: ServerOpt = None, output: OutputOpt = "table") -> None:
        """Per site: reachable, files per state, pending bytes and age, last jobs."""
        from reconciler.services.status import site_status

        check_output(output)
        t = target(db, server)
        sites = fetch(t, "/api/status", site_status, {})
        if output != "table":
            print_output(sites, output)
        else:
            now = now_ms()
            workers = fetch_workers(t, now)
            shown = render_status(sites, now)
            typer.echo(shown + ("\n\n" + render_workers(workers, now) if workers else ""))

    @describe.command("file")
    @clean_errors
    def describe_cmd(
        path: Annotated[str, typer.Argument(help="File _id, e.g. /shots/a.exr")],
        db: DbOpt = None,
        server: ServerOpt = None,
        output: OutputOpt = "table",
    ) -> None:
        """Every site with the file's state there and the times of its transfers."""
        from reconciler.services.status import describe_file

        check_output(output)
        route = "/api/describe/" + quote(path.lstrip("/"))
        d = fetch(target(db, server), route, lambda tx: describe_file(tx, path), {})
        if output != "table":
            print_output(d, output)
        else:
            typer.echo(render_file(d))

    @app.command("explain")
    @clean_errors
    def explain_cmd(
        path: Annotated[str, typer.Argument(help="File _id, e.g. /shots/a.exr")],
        site: Annotated[str | None, typer.Option("--site", help="Only this site")] = None,
        db: DbOpt = None,
        server: ServerOpt = None,
        output: OutputOpt = "table",
    ) -> None:
        """Why the file is, or is not yet, on each site (or on --site)."""
        from reconciler.services.explain import explain

        check_output(output)
        now = now_ms()
        route = "/api/explain/" + quote(path.lstrip("/"))
        items = fetch(
            target(db, server),
            route,
            lambda tx: explain(tx, path, site, now=now),
            {"site": site} if site else {},
        )
        if output != "table":
            print_output(items, output)
        else:
            typer.echo(render_explain(path, items))

    describe_cmds.register(describe)
