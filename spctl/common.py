"""What every `spctl` subcommand shares: `--db` / `--server`, tokens, errors, output.

A command reaches the tracker either directly through the store (`--db URL`, `SPCTL_DB`,
default the embedded SQLite file) or over HTTP (`--server URL`, `SPCTL_SERVER`, with the
token saved by `spctl login` or `SPCTL_TOKEN`). Errors are one line on stderr
(`error: ...`) and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, ParamSpec, TypeVar

import typer

from reconciler.store.private_files import private_dir, write_private

if TYPE_CHECKING:
    from reconciler.store import Store

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


@dataclass(frozen=True)
class Target:
    """Where a command acts: a local store or a remote tracker (exactly one is set)."""

    db: str | None
    server: str | None

    @property
    def remote(self) -> bool:
        return self.server is not None

    @contextmanager
    def store(self) -> Iterator[Store]:
        from reconciler.store import Store

        default = self.db is None and not os.environ.get("SPCTL_HOME")
        new = default and _default_store_is_new()
        store = Store.open(self.db)
        try:
            if default and (new or store.is_empty()):
                url = store.display_url
                state = "new, empty" if new else "empty"
                typer.echo(
                    f"spctl: store {url} ({state}; set SPCTL_HOME or --db for another)", err=True
                )
            yield store
        finally:
            store.close()

    def client(self) -> Any:
        from api.client import Client

        assert self.server is not None
        return Client(self.server, token=load_token(self.server))


def _default_store_is_new() -> bool:
    from reconciler.store.engine import default_db_url

    url = default_db_url()
    path = url.split(":///", 1)[1] if url.startswith("sqlite:///") else ""
    return bool(path) and not Path(path).exists()


def target(db: str | None, server: str | None) -> Target:
    if db and server:
        fail("give either --db or --server, not both")
    return Target(db=db, server=server.rstrip("/") if server else None)


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def check_output(output: str, allowed: tuple[str, ...] = ("table", "json", "yaml")) -> None:
    if output not in allowed:
        fail(f'unknown output format "{output}": use {", ".join(allowed)}')


def print_output(value: Any, output: str) -> None:
    """`-o json` or `-o yaml` of the same JSON-ready value (the shape the API answers)."""
    if output == "yaml":
        import yaml

        typer.echo(yaml.safe_dump(value, sort_keys=False, allow_unicode=True), nl=False)
    else:
        print_json(value)
