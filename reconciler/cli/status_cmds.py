"""`spctl status`, `spctl describe file PATH`, `spctl explain PATH [--site S]`.

Each command gets the same JSON either from the store (`--db`, through `reconciler.status`
and `reconciler.explain`) or from a tracker (`--server`, the `/api/status|describe|explain`
routes), then prints it as a table or, with `-o json`, as is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer

from reconciler.cli.common import (
    DbOpt,
    OutputOpt,
    ServerOpt,
    Target,
    clean_errors,
    fail,
    load_token,
    print_json,
    target,
)
from reconciler.explain import explain
from reconciler.runtime import now_ms
from reconciler.status import (
    BadRequest,
    NotFound,
    describe_file,
    human_age,
    human_bytes,
    iso_time,
    site_status,
    to_json,
)
from reconciler.store import Tx


def _fetch(t: Target, route: str, local: Callable[[Tx], Any], params: dict[str, str]) -> Any:
    if t.server is None:
        with t.store() as store, store.read() as tx:
            try:
                return to_json(local(tx))
            except (NotFound, BadRequest) as exc:
                fail(str(exc))
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


def _check_output(output: str) -> None:
    if output not in ("table", "json"):
        fail(f"--output: expected table or json, got {output!r}")


def render_status(sites: list[dict[str, Any]], now: int) -> str:
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
    return _table(headers, rows)


def render_file(d: dict[str, Any]) -> str:
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
    """Add `status`, `describe file` and `explain` to `app`."""
    describe = typer.Typer(help="Show one object in detail.", no_args_is_help=True)
    app.add_typer(describe, name="describe")

    @app.command("status")
    @clean_errors
    def status_cmd(db: DbOpt = None, server: ServerOpt = None, output: OutputOpt = "table") -> None:
        """Per site: reachable, files per state, pending bytes and age, last jobs."""
        _check_output(output)
        sites = _fetch(target(db, server), "/api/status", site_status, {})
        if output == "json":
            print_json(sites)
        else:
            typer.echo(render_status(sites, now_ms()))

    @describe.command("file")
    @clean_errors
    def describe_cmd(
        path: Annotated[str, typer.Argument(help="File _id, e.g. /shots/a.exr")],
        db: DbOpt = None,
        server: ServerOpt = None,
        output: OutputOpt = "table",
    ) -> None:
        """Every site with the file's state there and the times of its transfers."""
        _check_output(output)
        route = "/api/describe/" + quote(path.lstrip("/"))
        d = _fetch(target(db, server), route, lambda tx: describe_file(tx, path), {})
        if output == "json":
            print_json(d)
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
        _check_output(output)
        now = now_ms()
        route = "/api/explain/" + quote(path.lstrip("/"))
        items = _fetch(
            target(db, server),
            route,
            lambda tx: explain(tx, path, site, now=now),
            {"site": site} if site else {},
        )
        if output == "json":
            print_json(items)
        else:
            typer.echo(render_explain(path, items))
