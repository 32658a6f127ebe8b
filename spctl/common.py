"""What every `spctl` subcommand shares: `--db` / `--server`, tokens, errors, output.

A command reaches the tracker through `spctl.tracker.connect(db, server)`: the store
(`--db URL`, `SPCTL_DB`, default the embedded SQLite file) or HTTP (`--server URL`,
`SPCTL_SERVER`, with the token saved by `spctl login` or `SPCTL_TOKEN`, kept here). Errors
are one line on stderr (`error: ...`) and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from reconciler.store.private_files import private_dir, write_private

DbOpt = Annotated[
    str | None,
    typer.Option("--db", envvar="SPCTL_DB", help="Store URL (sqlite:///file.db, postgresql://...)"),
]
ServerOpt = Annotated[
    str | None,
    typer.Option("--server", envvar="SPCTL_SERVER", help="Tracker URL (talk HTTP instead of --db)"),
]
OutputOpt = Annotated[
    str, typer.Option("--output", "-o", help="Output format: table, wide, json or yaml")
]


class CliError(Exception):
    """An error to print as one line, with an exit code (default 2)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 2) -> NoReturn:
    raise CliError(message, code)


P = ParamSpec("P")
R = TypeVar("R")


def clean_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn CliError and unexpected exceptions into `error: ...` and an exit code."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except CliError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exc.code) from None
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # the last line of defence: no tracebacks for users
            if os.environ.get("SPCTL_DEBUG"):
                raise
            typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "syncplanet"


def tokens_file() -> Path:
    return config_dir() / "tokens.json"


def load_token(server: str) -> str | None:
    if os.environ.get("SPCTL_TOKEN"):
        return os.environ["SPCTL_TOKEN"]
    try:
        tokens = json.loads(tokens_file().read_text())
    except (OSError, ValueError):
        return None
    token = tokens.get(server.rstrip("/"))
    return str(token) if token else None


def save_token(server: str, token: str) -> Path:
    path = tokens_file()
    private_dir(path.parent)
    try:
        tokens = json.loads(path.read_text())
    except (OSError, ValueError):
        tokens = {}
    tokens[server.rstrip("/")] = token
    write_private(path, json.dumps(tokens, indent=2))  # 0600 from the start, never chmod-ed
    return path


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def check_output(output: str, allowed: tuple[str, ...] = ("table", "json", "yaml")) -> None:
    """`-o` must be one of `allowed`; the error lists them (`use table, json or yaml`)."""
    if output not in allowed:
        choices = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
        fail(f'unknown output format "{output}": use {choices}')


def print_output(value: Any, output: str) -> None:
    """`-o json` or `-o yaml` of the same JSON-ready value (the shape the API answers)."""
    if output == "yaml":
        import yaml

        typer.echo(yaml.safe_dump(value, sort_keys=False, allow_unicode=True), nl=False)
    else:
        print_json(value)
