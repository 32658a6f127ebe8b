"""`spctl serve` (the tracker API with uvicorn) and `spctl db upgrade` (Alembic migrations).

Settings come from the environment (`SPCTL_DB`, `SPCTL_SECRET`, `SPCTL_AUTHOR_MODE`,
`SPCTL_CREATE_RETURNS_OBJ`, `SPCTL_ADMIN_PASSWORD`, `SPCTL_MAX_BODY`, `SPCTL_MAX_DOC`,
`SPCTL_QUERY_TIMEOUT`, `SPCTL_COOKIE_SECURE`); flags override them. The JWT secret is
never a flag value (`ps` would show it): the environment or `--secret-file PATH`.
On a store without users, `serve` creates `admin` (see `api.users.ensure_admin`).
`--workers N` (`SPCTL_WORKERS`) runs N API processes sharing the store, the settings and the
metrics (`api.processes`); `spctl run` keeps one process.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from spctl.common import DbOpt, ServerOpt, clean_errors, fail
from spctl.tracker import store_only

if TYPE_CHECKING:
    from api.settings import Settings

SECRET_REFUSED = (
    "--secret is refused: a secret on the command line is visible to every account in the "
    "process list (ps). Set SPCTL_SECRET in the environment or use --secret-file PATH "
    "(a file only the tracker's account can read)."
)
db_app = typer.Typer(help="Store maintenance.", no_args_is_help=True)


@clean_errors
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8090,
    secret_file: Annotated[
        Path | None,
        typer.Option(
            help="File holding the JWT secret (default: SPCTL_SECRET, else a kept random one)"
        ),
    ] = None,
    secret: Annotated[
        str | None, typer.Option(hidden=True, help="Refused: the process list shows it")
    ] = None,
    author_mode: Annotated[
        bool | None,
        typer.Option("--author-mode/--no-author-mode", help="Non-admins modify only their objects"),
    ] = None,
    create_returns_obj: Annotated[
        bool | None,
        typer.Option("--create-returns-obj/--create-returns-ids", help="v2.5 create replies"),
    ] = None,
    max_body: Annotated[int | None, typer.Option(help="Largest request body in bytes")] = None,
    max_doc: Annotated[
        int | None, typer.Option(help="Largest stored document in bytes of JSON (1 MiB)")
    ] = None,
    query_timeout: Annotated[
        float | None, typer.Option(help="Seconds a request's database statement may run (5)")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level")] = "info",
    workers: Annotated[
        int, typer.Option(envvar="SPCTL_WORKERS", help="API processes sharing the store")
    ] = 1,
    db: DbOpt = None,
    server: ServerOpt = None,
) -> None:
    """Run the tracker HTTP API (damas-compatible routes, /healthz, /docs)."""
    import uvicorn

    from api.app import create_app
    from api.settings import Settings

    store_only(server, "serve")
    if max_body is not None and max_body <= 0:
        fail("--max-body must be a positive number of bytes")
    if max_doc is not None and max_doc <= 0:
        fail("--max-doc must be a positive number of bytes")
    if query_timeout is not None and query_timeout < 0:
        fail("--query-timeout must be a number of seconds (0 = no limit)")
    if secret is not None:
        fail(SECRET_REFUSED)
    if workers < 1:
        fail("--workers must be at least 1")
    settings = Settings.from_env(
        db_url=db, secret=read_secret_file(secret_file), author_mode=author_mode,
        create_returns_obj=create_returns_obj, max_body=max_body, max_doc=max_doc,
        query_timeout=query_timeout,
    )  # fmt: skip
    if workers > 1:
        serve_processes(settings, host=host, port=port, workers=workers, log_level=log_level)
        return
    app = create_app(settings)
    typer.echo(
        f"spctl: tracker on http://{host}:{port}/ (store {app.state.store.dialect})", err=True
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def serve_processes(
    settings: Settings, *, host: str, port: int, workers: int, log_level: str
) -> None:
    """N uvicorn processes on one socket; the store is migrated and `admin` made here, once."""
    import uvicorn

    from api.processes import shared_state
    from api.users import ensure_admin
    from reconciler.core.passwords import Passwords
    from reconciler.store import Store

    store = Store.open(settings.db_url)
    try:
        ensure_admin(store, settings, Passwords())
        dialect = store.dialect
    finally:
        store.close()
    typer.echo(
        f"spctl: tracker on http://{host}:{port}/ (store {dialect}, {workers} processes)",
        err=True,
    )
    with shared_state(settings):
        uvicorn.run(
            "api.processes:worker_app", factory=True, host=host, port=port,
            workers=workers, log_level=log_level,
        )  # fmt: skip


def read_secret_file(path: Path | None) -> str | None:
    """The secret held in `path` (surrounding whitespace dropped); None without a path."""
    if path is None:
        return None
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--secret-file {path}: cannot read it ({exc})")
    if not value:
        fail(f"--secret-file {path}: the file is empty")
    return value


@clean_errors
def upgrade(db: DbOpt = None, server: ServerOpt = None) -> None:
    """Migrate the store to the newest schema (a new store is created and migrated)."""
    from reconciler.store import engine as engines

    store_only(server, "db upgrade")
    url = db or engines.default_db_url()
    engine = engines.make_engine(url)
    try:
        before = engines.current_revision(engine)
        after = engines.upgrade(engine)
    finally:
        engine.dispose()
    state = "unchanged" if before == after else f"upgraded from {before or 'empty'}"
    typer.echo(
        f"store {engine.url.render_as_string(hide_password=True)} at revision {after} ({state})"
    )


def register(app: typer.Typer) -> None:
    """Add `serve` and `db upgrade` to `app`."""
    app.command("serve")(serve)
    db_app.command("upgrade")(upgrade)
    app.add_typer(db_app, name="db")
