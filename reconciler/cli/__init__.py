"""`spctl`: the command line of SyncPlanet (Typer). Each module registers its commands."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import typer.main

from reconciler.cli import config_cmds, server_cmds, status_cmds, sync_cmds, tracker_cmds

app = typer.Typer(
    name="spctl",
    help="SyncPlanet: track and reconcile a production's files across sites.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for module in (server_cmds, config_cmds, tracker_cmds, sync_cmds, status_cmds):
    module.register(app)


def _show_version(value: bool) -> None:
    if value:
        from reconciler.version import version

        typer.echo(f"spctl {version()}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version and exit",
        ),
    ] = False,
) -> None:
    """SyncPlanet: track and reconcile a production's files across sites."""


def _plain_flags(command: Any) -> None:
    """--help the kubectl way: `spctl get KIND [NAME]`, flags without a `<bool>` column.

    Typer shows every option's type; for a flag that type says nothing, and an empty
    metavar renders as nothing (typer's own help option is built once per command, then
    cached). Arguments are named in capitals.
    """
    help_option = command.get_help_option(command.context_class(command))
    for param in [*command.params, help_option]:
        if param is None or param.metavar is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.param_type_name == "argument":
            param.metavar = param.name.upper()
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub)


def main() -> None:
    command = typer.main.get_command(app)
    _plain_flags(command)
    command(prog_name="spctl")
