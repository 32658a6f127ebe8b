"""spctl apply, diff, get and delete: declarative configuration from the command line.

Thin adapters. Manifests are read and validated here, where spctl runs (files,
`passwordFromEnv`, `${SPCTL_HOME}`); then either `reconciler.services.applier` works on the store
(`--db`) or the tracker's `/api/declarative/*` routes do the same on the server
(`--server`). Both return the same outcomes, printed the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer

from reconciler.core.clock import now_ms
from spctl.common import (
    DbOpt,
    OutputOpt,
    ServerOpt,
    Target,
    clean_errors,
    fail,
    print_json,
    print_output,
    target,
)

if TYPE_CHECKING:  # the modules below are imported by the commands that use them
    from reconciler.core.kinds import KindInfo
    from reconciler.services.manifests import Manifest

FileOpt = Annotated[
    Path, typer.Option("--filename", "-f", help="A manifest file or a directory of them")
]
PruneOpt = Annotated[
    bool, typer.Option("--prune", help="Also remove objects a previous apply created")
]
KINDS_HELP = "globalparameters, hub, volumes, users or synctargets"


def read_manifests(path: Path, *, unset_passwords_ok: bool = False) -> list[Manifest]:
    """Load and validate where spctl runs (env values and ${SPCTL_HOME} are read here)."""
    from reconciler.services.manifests import ManifestError, load
    from reconciler.store.engine import data_home

    try:
        manifests = load(
            path,
            env=os.environ,
            variables={"SPCTL_HOME": str(data_home())},
            unset_passwords_ok=unset_passwords_ok,
        )
    except ManifestError as exc:
        fail(str(exc))
    for warning in (w for m in manifests for w in m.warnings):
        typer.echo(f"warning: {warning}", err=True)
    return manifests


def remote(t: Target, method: str, path: str, body: Any = None, *, missing_ok: bool = False) -> Any:
    """Call a declarative route; a 4xx message becomes the one-line error (404: None)."""
    from api.client import ApiError

    try:
        with t.client() as client:
            return client.request(method, path, json=body)
    except ApiError as exc:
        if missing_ok and exc.status == 404:
            return None
        fail(exc.message)


def apply_cmd(
    filename: FileOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change")] = False,
    prune: PruneOpt = False,
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Apply manifests: one line per object (created, configured, unchanged, pruned)."""
    from reconciler.services import applier
    from reconciler.services.manifests import ManifestError, wire_body

    t = target(db, server)
    manifests = read_manifests(filename)
    if t.remote:
        reply = remote(
            t,
            "POST",
            "/api/declarative/apply",
            {**wire_body(manifests), "dryRun": dry_run, "prune": prune},
        )
        lines = [f"{r['object']} {r['action']}" for r in reply["results"]]
    else:
        with t.store() as store:
            try:
                outcomes = applier.apply(
                    store, manifests, dry_run=dry_run, prune=prune, now=now_ms(), author="spctl"
                )
            except ManifestError as exc:
                fail(str(exc))
        lines = [f"{o.ref} {o.action.value}" for o in outcomes]
    for line in lines:
        typer.echo(line + (" (dry run)" if dry_run else ""))


def diff_cmd(
    filename: FileOpt,
    prune: PruneOpt = False,
    impact: Annotated[
        bool,
        typer.Option("--impact", help="Also show what each site would receive or stop receiving"),
    ] = False,
    max_bytes: Annotated[
        str | None,
        typer.Option(
            "--max-bytes",
            metavar="SIZE",
            help="Exit 3 if a site would receive more than SIZE (500G, 1.2T): implies --impact",
        ),
    ] = None,
    output: Annotated[
        str, typer.Option("--output", "-o", help="Output format: text or json")
    ] = "text",
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Unified diff of live objects vs manifests. Exit 0: none, 1: differences, 2: error,
    3: a site would receive more than --max-bytes."""
    from reconciler.services.manifests import ManifestError, wire_body
    from spctl import diff_view

    request = diff_view.Request.parse(impact=impact, max_bytes=max_bytes, output=output)
    t = target(db, server)
    manifests = read_manifests(filename, unset_passwords_ok=True)
    if t.remote:
        body = {**wire_body(manifests), "prune": prune, "impact": request.impact}
        reply = remote(t, "POST", "/api/declarative/diff", body)
        result = diff_view.from_reply(reply)
    else:
        with t.store() as store:
            try:
                result = diff_view.compute(store, manifests, request, prune=prune, now=now_ms())
            except ManifestError as exc:
                fail(str(exc))
    raise typer.Exit(diff_view.show(result, request))


def kind_arg(word: str) -> KindInfo:
    from reconciler.core.kinds import lookup_kind

    info = lookup_kind(word)
    if info is None:
        fail(f'unknown kind "{word}": use {KINDS_HELP}')
    return info


def get_cmd(
    kind: Annotated[str, typer.Argument(help=KINDS_HELP + ", or workers")],
    name: Annotated[str | None, typer.Argument(help="One object's name")] = None,
    output: OutputOpt = "table",
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Show live objects (or `workers`: the reconciler processes); `-o yaml` prints
    manifests that apply back unchanged."""
    import yaml

    if kind in ("workers", "worker"):
        return get_workers(output, db, server)

    from reconciler.services.declarative import to_yaml
    from spctl.config_tables import table

    info = kind_arg(kind)
    if output not in ("table", "wide", "json", "yaml"):
        fail(f'unknown output format "{output}": use table, wide, json or yaml')
    t = target(db, server)
    if t.remote:
        path = f"/api/declarative/objects/{info.plural}" + (
            f"/{quote(name, safe='')}" if name else ""
        )
        reply = remote(t, "GET", path, missing_ok=True)
        items = list(reply or []) if name is None else [reply] if reply else []
    else:
        items = local_objects(t, info, name)
    if name and not items:
        fail(f'{info.word} "{name}" not found', 1)
    if output == "json":
        print_json(items[0] if name else items)
    elif output == "yaml":
        text = (
            to_yaml(items[0])
            if name
            else yaml.safe_dump_all(items, sort_keys=False, explicit_start=True, allow_unicode=True)
        )
        typer.echo(text, nl=False)
    elif items:
        typer.echo(table(info, items, wide=output == "wide"))
    else:
        typer.echo("No resources found.", err=True)


def get_workers(output: str, db: str | None, server: str | None) -> None:
    from spctl.status_cmds import fetch_workers, render_workers

    if output not in ("table", "wide", "json", "yaml"):
        fail(f'unknown output format "{output}": use table, wide, json or yaml')
    now = now_ms()
    found = fetch_workers(target(db, server), now)
    if output in ("json", "yaml"):
        print_output(found, output)
    elif found:
        typer.echo(render_workers(found, now))
    else:
        typer.echo("No workers running.", err=True)


def local_objects(t: Target, info: KindInfo, name: str | None) -> list[Any]:
    """`get` on a store. A current SQLite store is read with sqlite3 alone: `spctl get` then
    starts without SQLAlchemy (`reconciler.store.lite`); an empty answer from the default
    store takes the full path, which says which store it opened."""
    from reconciler.services.declarative import live_objects
    from reconciler.store.lite import open_current

    reader = open_current(t.db)
    if reader is not None:
        with reader:
            items = live_objects(reader, info, name)
        if items or t.db is not None or os.environ.get("SPCTL_HOME"):
            return items
    from reconciler.services import applier

    with t.store() as store:
        return applier.get(store, info, name)


def delete_cmd(
    kind: Annotated[str, typer.Argument(help=KINDS_HELP)],
    name: Annotated[str, typer.Argument(help="The object's name")],
    ignore_not_found: Annotated[
        bool, typer.Option("--ignore-not-found", help="Exit 0 when it does not exist")
    ] = False,
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Delete one object (prints `volume/paris deleted`)."""
    from reconciler.services import applier

    info = kind_arg(kind)
    t = target(db, server)
    if t.remote:
        path = f"/api/declarative/objects/{info.plural}/{quote(name, safe='')}"
        found = remote(t, "DELETE", path, missing_ok=True) is not None
    else:
        with t.store() as store:
            found = applier.delete(store, info, name)
    if not found:
        if ignore_not_found:
            return
        fail(f'{info.word} "{name}" not found', 1)
    typer.echo(f"{info.ref(name)} deleted")


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    for name, func in (
        ("apply", apply_cmd),
        ("diff", diff_cmd),
        ("get", get_cmd),
        ("delete", delete_cmd),
    ):
        app.command(name)(clean_errors(func))
