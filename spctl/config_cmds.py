"""spctl apply, diff, get and delete: declarative configuration from the command line.

Thin adapters. Manifests are read and validated here, where spctl runs (files,
`passwordFromEnv`, `${SPCTL_HOME}`); then the tracker (`spctl.tracker`: the store's
`reconciler.services.applier`, or a server's `/api/declarative/*` routes) applies them.
Both return the same outcomes, printed the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.core.clock import now_ms
from spctl.common import (
    DbOpt,
    OutputOpt,
    ServerOpt,
    check_output,
    clean_errors,
    fail,
    print_json,
    print_output,
)
from spctl.tracker import connect

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


def apply_cmd(
    filename: FileOpt,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change")] = False,
    prune: PruneOpt = False,
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Apply manifests: one line per object (created, configured, unchanged, pruned)."""
    tracker = connect(db, server)
    manifests = read_manifests(filename)
    for ref, action in tracker.apply(manifests, dry_run=dry_run, prune=prune):
        typer.echo(f"{ref} {action}" + (" (dry run)" if dry_run else ""))


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
    from spctl import diff_view

    request = diff_view.Request.parse(impact=impact, max_bytes=max_bytes, output=output)
    tracker = connect(db, server)
    manifests = read_manifests(filename, unset_passwords_ok=True)
    result = tracker.diff(manifests, request, prune=prune)
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
    check_output(output, ("table", "wide", "json", "yaml"))
    items = connect(db, server).objects(info, name)
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
    from spctl.status_cmds import render_workers

    check_output(output, ("table", "wide", "json", "yaml"))
    now = now_ms()
    found = connect(db, server).workers(now)
    if output in ("json", "yaml"):
        print_output(found, output)
    elif found:
        typer.echo(render_workers(found, now))
    else:
        typer.echo("No workers running.", err=True)


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
    info = kind_arg(kind)
    if not connect(db, server).delete(info, name):
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
