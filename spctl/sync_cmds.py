"""spctl commands of the reconciler: `spctl reconcile` (the loop), `spctl scan` (discovery
once) and `spctl run` (API + loop).

Thin adapters: parse options, open the store, build the hub session, then hand over to
`reconciler.jobs.scheduler` (and uvicorn for `run`). One `Metrics` is shared by the loop and the
API in `run`; `reconcile` alone serves it on `--metrics-port` with prometheus_client.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from spctl.common import DbOpt, ServerOpt, clean_errors, fail
from spctl.tracker import store_only

if TYPE_CHECKING:  # imported where used: `spctl get` and `--help` need none of them
    from reconciler.jobs.scan import ScanReport
    from reconciler.services.metrics import Metrics
    from reconciler.store import Store

LogOpt = Annotated[
    str, typer.Option("--log-level", help="debug, info, warning or error (logs go to stderr)")
]
OnceOpt = Annotated[
    bool,
    typer.Option(
        "--once",
        help="Run until nothing can move, then exit: 0 done, 1 errors remain, "
        "4 work leased by another worker or waiting for a retry",
    ),
]
MetricsPortOpt = Annotated[
    int | None, typer.Option("--metrics-port", help="Serve /metrics on this port")
]
MetricsAddrOpt = Annotated[str, typer.Option("--metrics-addr", help="Address for --metrics-port")]
DemoOpt = Annotated[
    bool, typer.Option("--demo", help="Local hub and demo volumes under the data directory")
]
HostOpt = Annotated[str, typer.Option("--host", help="Address the API listens on")]
PortOpt = Annotated[int, typer.Option("--port", help="Port of the API")]


def _logging(level: str) -> None:
    value = getattr(logging, level.upper(), None)
    if not isinstance(value, int):
        fail(f"--log-level: unknown level {level!r} (debug, info, warning, error)")
    logging.basicConfig(level=value, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # their INFO lines are per job run or per migration step: noise next to ours
    for chatty in ("apscheduler", "alembic", "paramiko", "invoke", "fabric"):
        logging.getLogger(chatty).setLevel(max(value, logging.WARNING))


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    done = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    done.wait()


def _metrics_for(store: Store) -> Metrics:
    from reconciler.services.metrics import Metrics

    metrics = Metrics()
    metrics.register_store_collector(store)
    return metrics


def describe_scan(report: ScanReport) -> str:
    """One line per volume for `spctl scan`."""
    from reconciler.jobs.scan import ScanStatus

    head = f"scan {report.volume}: "
    if report.status is ScanStatus.DISABLED:
        return head + "disabled (enableDiscovery on the volume, enableScans globally)"
    if report.status is ScanStatus.FAILED:
        return head + f"failed (exit {report.exit_code}): {report.stderr.strip()}"
    changed = ", ".join(f"{kind} {n}" for kind, n in report.actions.items())
    line = head + f"done, {report.listed} listed, {changed or 'nothing changed'}"
    if report.held:
        line += f", {report.held} deletions held"
    return line + (f" ({report.stderr})" if report.stderr else "")


EXIT_DELETIONS_HELD = 3  # `spctl scan`: a scan held its deletions back (the deletion guard)


def register(app: typer.Typer) -> None:
    """Add `reconcile`, `scan` and `run` to `app`."""

    @app.command("scan")
    @clean_errors
    def scan_cmd(
        volumes: Annotated[
            list[str] | None,
            typer.Argument(metavar="VOLUME", help="Default: every volume with enableDiscovery"),
        ] = None,
        confirm_deletions: Annotated[
            bool,
            typer.Option(
                "--confirm-deletions",
                help="Apply the deletions the guard held (deletionsHeld; needs VOLUME)",
            ),
        ] = False,
        adopt: Annotated[
            bool,
            typer.Option(
                "--adopt",
                help="Re-initialise the volume marker (.syncplanet/volume.json) with a new id: "
                "the root as it is now is the volume (needs VOLUME)",
            ),
        ] = False,
        log_level: LogOpt = "warning",
        db: DbOpt = None,
        server: ServerOpt = None,
    ) -> None:
        """Scan volumes once and bring the tracker in line (nothing is transferred).

        Exit 0 done, 1 a scan failed (unreachable, not mounted...), 3 deletions held."""
        from reconciler.jobs.scan import ScanStatus, scan_volume
        from reconciler.jobs.scheduler import open_session, scanned_volumes
        from reconciler.store import Store

        store_only(server, "scan")
        if (confirm_deletions or adopt) and not volumes:
            fail("--confirm-deletions and --adopt need the VOLUME names")
        _logging(log_level)
        store = Store.open(db)
        try:
            with store.read() as tx:
                cfg = tx.config()
            names = list(dict.fromkeys(volumes or scanned_volumes(cfg)))
            for name in names:
                if name not in cfg.volumes:
                    known = ", ".join(sorted(cfg.volumes)) or "none"
                    fail(f"VOLUME: no volume named {name!r} (volumes: {known})")
            if not names:
                typer.echo("scan: no volume to scan (enableDiscovery and enableScans are off)")
                return
            session = open_session(store)  # one-off: no metrics to serve
            try:
                reports = [
                    scan_volume(session.rt, name, confirm_deletions=confirm_deletions, adopt=adopt)
                    for name in names
                ]
            finally:
                session.close()
        finally:
            store.close()
        for report in reports:
            typer.echo(describe_scan(report))
        if any(r.status is ScanStatus.FAILED for r in reports):
            raise typer.Exit(1)
        raise typer.Exit(EXIT_DELETIONS_HELD if any(r.held for r in reports) else 0)

    @app.command("reconcile")
    @clean_errors
    def reconcile_cmd(
        once: OnceOpt = False,
        metrics_port: MetricsPortOpt = None,
        metrics_addr: MetricsAddrOpt = "127.0.0.1",
        log_level: LogOpt = "info",
        db: DbOpt = None,
        server: ServerOpt = None,
    ) -> None:
        """Run the reconciler: scan, emit to the hub and receive from it, continuously."""
        from reconciler.jobs.scheduler import Scheduler, open_session, reconcile_once
        from reconciler.store import Store

        store_only(server, "reconcile")
        _logging(log_level)
        store = Store.open(db)
        metrics = _metrics_for(store)
        if metrics_port is not None:
            from prometheus_client import start_http_server

            start_http_server(metrics_port, addr=metrics_addr, registry=metrics.registry)
        session = open_session(store, metrics=metrics)
        try:
            if once:
                with session.runtime() as rt:
                    errors = reconcile_once(rt)
                code, message = _once_outcome(store, session.worker.id, errors)
                typer.echo(f"reconcile: {message}")
                raise typer.Exit(code)
            loop = Scheduler(session)
            loop.start()
            try:
                _wait_for_signal()
            finally:
                loop.shutdown()
        finally:
            session.close()
            store.close()

    @app.command("run")
    @clean_errors
    def run_cmd(
        demo: DemoOpt = False,
        host: HostOpt = "127.0.0.1",
        port: PortOpt = 8090,
        log_level: LogOpt = "info",
        db: DbOpt = None,
        server: ServerOpt = None,
    ) -> None:
        """The embedded default: the tracker API and the reconciler in one process."""
        store_only(server, "run")
        _logging(log_level)
        listener = _listen(host, port)  # before anything starts: a busy port fails here
        import uvicorn

        from api.app import create_app
        from api.settings import Settings
        from reconciler.jobs.scheduler import Scheduler, open_session
        from reconciler.store import Store

        store = Store.open(db)
        if demo:
            _demo(store)
        metrics = _metrics_for(store)
        settings = Settings.from_env(db_url=db) if db else Settings.from_env()
        api = create_app(settings, store=store, metrics=metrics)
        session = open_session(store, metrics=metrics)
        loop = Scheduler(session)
        loop.start()
        typer.echo(f"spctl run: API on http://{host}:{port}/, reconciler started", err=True)
        # uvicorn stops gracefully on SIGTERM/SIGINT, then re-raises the signal with the
        # handler found at start: make that one a clean exit, so the loop below is stopped.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _exit_cleanly)
        try:
            config = uvicorn.Config(api, host=host, port=port, log_level=log_level.lower())
            uvicorn.Server(config).run(sockets=[listener])
        finally:
            listener.close()
            loop.shutdown()
            store.close()


def _listen(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound now; a port in use is one line and exit 2."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        fail(f"cannot listen on {host}:{port}: {reason} (choose another --port)")


EXIT_WAITING = 4  # `reconcile --once`: work left is leased elsewhere or waits for a retry


def _once_outcome(store: Store, me: str, errors: bool) -> tuple[int, str]:
    """Exit code and message of `--once`: 0 only when the desired state is reached."""
    from reconciler.core.clock import now_ms
    from reconciler.jobs.scheduler import leftover

    left = leftover(store, me=me, now=now_ms())
    if left.waiting:
        return EXIT_WAITING, left.describe() + (" (see spctl status)" if errors else "")
    if errors:
        return 1, "errors remain (see spctl status)"
    if left.pending:
        return 1, f"{left.pending} copies pending that nothing can move now (see spctl status)"
    return 0, "done, nothing left that can move"


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _demo(store: Store) -> None:
    from reconciler.services.demo import setup_demo
    from reconciler.store.engine import data_home

    home = data_home()
    result = setup_demo(store, home, os.environ)
    for line in result.applied:
        typer.echo(line)
    for name, folder in result.folders.items():
        typer.echo(f"demo site {name}: {folder}")
    for user, password in result.credentials.items():
        typer.echo(f"demo user {user}: password {password} (kept in {home}/demo/credentials.json)")
