"""`spctl`: the command line of SyncPlanet (Typer). Each module registers its commands."""

from __future__ import annotations

from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import typer
import typer.main

from spctl import config_cmds, server_cmds, status_cmds, sync_cmds, tracker_cmds

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
        if param is not None:
            _text_as_is(param)
        if param is None or param.metavar is not None:
            continue
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.param_type_name == "argument":
            param.metavar = param.name.upper()
    for sub in getattr(command, "commands", {}).values():
        _plain_flags(sub)


def _text_as_is(param: Any) -> None:
    """Text and flags keep the value click parsed, without typer's pydantic adapter.

    Typer (0.2x) coerces every value through a pydantic TypeAdapter built on first use;
    importing pydantic for `spctl get volumes` was a third of its start-up. Click has already
    made the value a `str` (a flag's a `bool`), so typer's own pass-through is exact. With a
    typer that has no such internals this does nothing and typer coerces as usual.
    """
    try:
        from typer._coercion import PassThroughRuntimeParam
    except ImportError:  # another typer: its own coercion stays
        return
    descriptor = getattr(param, "type_descriptor", None)
    if (
        getattr(param, "_runtime_param", False) is None
        and descriptor is not None
        and descriptor.file_annotation is None
    ):
        annotation = descriptor.annotation
        optional = get_origin(annotation) in (Union, UnionType)  # `str | None`; not `list[str]`
        kinds = (set(get_args(annotation)) if optional else {annotation}) - {NoneType}
        if kinds == {str} or (kinds == {bool} and getattr(param, "is_flag", False)):
            param._runtime_param = PassThroughRuntimeParam(
                parameter_info=descriptor.parameter_info, annotation=kinds.pop()
            )


def main() -> None:
    command = typer.main.get_command(app)
    _plain_flags(command)
    command(prog_name="spctl")
