"""`spctl describe file|volume|hub|user|synctarget|globalparameters NAME`: one object in detail.

`describe file` is in `status_cmds` (the file on every site). The configuration kinds show
the live object as `spctl get -o yaml` has it (spec with defaults, status keys), laid out
kubectl-style with times in the one format of spctl (`2026-12-02 13:45:10Z`); a hub or
volume adds its site's line of `spctl status` (reachable, files per state, pending work).
`-o json|yaml` prints `{"object": ..., "site": ...}` for scripts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

import typer

from spctl.common import DbOpt, OutputOpt, ServerOpt, clean_errors, fail, print_output
from spctl.table import cell, fields
from spctl.tracker import Tracker, connect

# Status keys holding a time in ms since the epoch (damas-core's `time`, `last_scan`,
# `lastlogin`, `scannedOnce`, `lastConnectionSuccess`...).
_TIME_KEY = re.compile(r"^(time|last.*|scannedOnce|.*_at|synced_.*|syncing_.*)$")
DESCRIBED = ("volume", "hub", "user", "synctarget", "globalparameters")


def _cell(key: str, value: Any) -> str:
    """A status value; a time (by its key's name, and ms-sized) in spctl's one format."""
    from reconciler.core.humanize import iso_time

    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and value > 10**11 and _TIME_KEY.match(key):
        return iso_time(value)
    return cell(value)


def _section(title: str, values: Mapping[str, Any]) -> list[str]:
    if not values:
        return []
    return [f"{title}:", *fields([(k, _cell(k, v)) for k, v in values.items()], indent="  ")]


def render_object(obj: Mapping[str, Any], site: Mapping[str, Any] | None) -> str:
    """kubectl-describe text of a manifest-shaped object (and its site's status line)."""
    lines = fields([("Name", obj["metadata"]["name"]), ("Kind", obj["kind"])])
    lines += _section("Spec", obj["spec"])
    lines += _section("Status", obj.get("status") or {})
    if site is not None:
        from reconciler.core.humanize import human_bytes

        files = site["files"]
        lines += _section(
            "Site",
            {
                "reachable": site["reachable"],
                "enabled": site["enabled"],
                "files": ", ".join(f"{state} {n}" for state, n in files.items()),
                "pending": f"{site['pending_files']} files, {human_bytes(site['pending_bytes'])}",
                "oldest_pending_at": site["oldest_pending"],
                "last_scan": site["last_scan"],
                "last_emission": site["last_emission"],
                "last_reception": site["last_reception"],
                "lastConnectionSuccess": site["last_connection_success"],
            },
        )
    return "\n".join(lines)


def _object_and_site(tracker: Tracker, word: str, name: str) -> tuple[Any, Any]:
    """The object (None: not found) and, for a hub or volume, its site's status line."""
    from reconciler.core.kinds import lookup_kind

    info = lookup_kind(word)
    assert info is not None
    found = tracker.objects(info, name)
    if not found or word not in ("hub", "volume"):
        return (found[0] if found else None), None
    return found[0], next((s for s in tracker.status() if s["site"] == name), None)


def describe_object(word: str, name: str, db: str | None, server: str | None, output: str) -> None:
    obj, site = _object_and_site(connect(db, server), word, name)
    if obj is None:
        fail(f'{word} "{name}" not found', 1)
    if output in ("json", "yaml"):
        print_output({"object": obj, "site": site}, output)
    else:
        typer.echo(render_object(obj, site))


def _command(word: str) -> Any:
    def command(
        name: Annotated[str, typer.Argument(help="The object's name")],
        db: DbOpt = None,
        server: ServerOpt = None,
        output: OutputOpt = "table",
    ) -> None:
        describe_object(word, name, db, server, output)

    command.__doc__ = f"The {word}: its spec with defaults, status keys" + (
        " and its site's files and pending work." if word in ("hub", "volume") else "."
    )
    return clean_errors(command)


def register(describe: typer.Typer) -> None:
    """Add `describe volume|hub|user|synctarget|globalparameters NAME` to `describe`."""
    for word in DESCRIBED:
        describe.command(word)(_command(word))
