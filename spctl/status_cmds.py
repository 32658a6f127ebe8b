"""`spctl status`, `spctl describe file PATH`, `spctl explain PATH [--site S]`.

Each command gets the same JSON from the tracker (`spctl.tracker`: the store's
`reconciler.services.status` and `reconciler.services.explain`, or a server's
`/api/status|describe|explain` routes), then prints it as a table or, with `-o json|yaml`, as
is. Imports are local to the functions that need them: a table from a small store starts
without the HTTP client.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from reconciler.core.clock import now_ms
from spctl import describe_cmds
from spctl.common import DbOpt, OutputOpt, ServerOpt, check_output, clean_errors, print_output
from spctl.table import cell, fields, render
from spctl.tracker import connect


def render_status(sites: list[dict[str, Any]], now: int) -> str:
    from reconciler.core.humanize import human_age, human_bytes

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
             cell(s["reachable"]), *(str(files[k]) for k in
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
    return "\n".join([render(headers, rows), *notes])


def render_workers(workers: list[dict[str, Any]], now: int) -> str:
    """The reconciler processes: `spctl get workers`, and under `spctl status`."""
    from reconciler.core.humanize import human_age, iso_time

    headers = ["WORKER", "HOST", "PID", "STARTED", "LAST HEARTBEAT", "JOBS", "LEASES"]
    rows = [
        [w["worker"], w["host"], str(w["pid"]), iso_time(w["started"]),
         human_age(w["heartbeat"], now) + ("" if w["alive"] else " (silent)"),
         ",".join(w["jobs"]) or "-", str(w["leases"])]
        for w in workers
    ]  # fmt: skip
    return render(headers, rows)


def render_file(d: dict[str, Any]) -> str:
    from reconciler.core.humanize import human_bytes, iso_time

    size = d["file_size"]
    head = fields(
        [("File", d["file_id"]), ("Origin", cell(d["origin"])), ("Time", iso_time(d["time"])),
         ("Size", human_bytes(size) if size is not None else "-"),
         ("Priority", str(d["priority"])), ("Deleted", cell(d["deleted"])),
         ("Lock", cell(d["lock"]))]
    )  # fmt: skip
    headers = ["SITE", "ROLE", "WANTED", "STATE", "SYNCED", "SYNCING", "ERROR",
               "LAST ATTEMPT", "NEXT RETRY"]  # fmt: skip
    rows = [
        [s["site"], s["role"], cell(s["wanted"]), s["state"], iso_time(s["synced"]),
         iso_time(s["syncing"]), str(s["error"]) if s["error"] is not None else "-",
         iso_time(s["last_attempt"]), iso_time(s["next_retry"])]
        for s in d["sites"]
    ]  # fmt: skip
    return "\n".join([*head, render(headers, rows)])


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
        check_output(output)
        tracker = connect(db, server)
        sites = tracker.status()
        if output != "table":
            print_output(sites, output)
        else:
            now = now_ms()
            workers = tracker.workers(now)
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
        check_output(output)
        d = connect(db, server).describe_file(path)
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
        check_output(output)
        items = connect(db, server).explain(path, site, now_ms())
        if output != "table":
            print_output(items, output)
        else:
            typer.echo(render_explain(path, items))

    describe_cmds.register(describe)
