"""`spctl publish`, `lock`, `unlock` and `login`: the tracker's dam operations from a shell.

Through `spctl.tracker`: with `--server` the tracker's routes (token from `spctl login` or
`SPCTL_TOKEN`); with `--db` the same `api.dam` functions on the store, as the local user
(admin rights: whoever can open the store file can change it anyway).
Author of what they write: with `--server` the signed-in tracker user (the token's); on a
store, `SPCTL_AUTHOR` when set, else the login name of the account running spctl.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from spctl.common import (
    DbOpt,
    OutputOpt,
    ServerOpt,
    check_output,
    clean_errors,
    fail,
    print_output,
    save_token,
)
from spctl.passwords import read_password
from spctl.tracker import connect

PathArg = Annotated[str, typer.Argument(help="Tracked file path, e.g. /shots/s01/a.exr")]


@clean_errors
def publish(
    path: PathArg,
    origin: Annotated[str, typer.Option(help="Site that holds the file")],
    comment: Annotated[str, typer.Option(help="Comment stored with the file")] = "",
    priority: Annotated[int | None, typer.Option(help="sync_priority (higher first)")] = None,
    output: OutputOpt = "table",
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Track a file published at ORIGIN (it then syncs to the hub and the other sites).

    Its author is the signed-in tracker user with --server; on a store, $SPCTL_AUTHOR or
    your login name.
    """
    check_output(output)
    body: dict[str, Any] = {"_id": path, "origin": origin, "comment": comment}
    if priority is not None:
        body["sync_priority"] = priority
    reply = connect(db, server).publish(body)
    if output != "table":
        print_output(reply, output)
    else:
        typer.echo(f"published {path} (origin {origin})")


@clean_errors
def lock(path: PathArg, db: DbOpt = None, server: ServerOpt = None) -> None:
    """Lock a file for yourself (fails if someone else holds the lock)."""
    connect(db, server).lock(path)
    typer.echo(f"locked {path}")


@clean_errors
def unlock(path: PathArg, db: DbOpt = None, server: ServerOpt = None) -> None:
    """Release your lock (admins may clear anyone's)."""
    connect(db, server).unlock(path)
    typer.echo(f"unlocked {path}")


@clean_errors
def login(
    server: Annotated[str, typer.Option("--server", envvar="SPCTL_SERVER", help="Tracker URL")],
    username: Annotated[str, typer.Option("--username", "-u", help="User name")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin")
    ] = False,
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help='Token lifetime ("1d", "8h", "0" = none)')
    ] = None,
) -> None:
    """Sign in to a tracker and keep the token for the next `--server` commands."""
    from api.client import ApiError, Client

    password = read_password(from_stdin=password_stdin)
    base = server.rstrip("/")
    with Client(base) as client:
        try:
            reply = client.signIn(username, password, expiresIn=expires_in)
        except ApiError as exc:
            fail(exc.message, 1 if exc.status == 401 else 2)
    path = save_token(base, reply["token"])
    typer.echo(f"logged in to {base} as {username} (token saved in {path})")


def register(app: typer.Typer) -> None:
    """Add `publish`, `lock`, `unlock` and `login` to `app`."""
    app.command("publish")(publish)
    app.command("lock")(lock)
    app.command("unlock")(unlock)
    app.command("login")(login)
