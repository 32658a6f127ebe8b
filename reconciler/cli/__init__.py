"""`spctl`: the command line of SyncPlanet (Typer). Each module registers its commands."""

from __future__ import annotations

import typer

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


def main() -> None:
    app()
