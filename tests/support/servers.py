"""Servers the tests and benchmarks start on 127.0.0.1: one way to start, wait for, and stop.

- `free_port()`: a port nothing listens on right now (for a child process's `--port`).
- `serving(app)`: an ASGI app (the tracker's `create_app(...)`) in a real uvicorn server in a
  thread of this process, on a port the kernel picks; yields its URL once it accepts
  connections and stops it on exit. If it stops before starting, the error carries what
  uvicorn logged (a port in use, a failing start-up).
- `server_process(argv, port=..., logs=...)`: a child process (`spctl serve`, `spctl run`,
  uvicorn in a script, Prometheus) whose stdout and stderr go to files under `logs`; waits
  until `GET <ready>` answers 200 and stops it by its PID on exit (the signal, then SIGKILL
  if it does not exit in time). If it exits or does not answer in time, the error carries
  the end of its output. After the block, `returncode`, `stdout()` and `stderr()` tell how
  it ended.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
READY_SECONDS = 60.0  # how long a server may take to answer (a loaded 2-core machine)
STOP_SECONDS = 30.0  # how long it may take to exit after the stop signal
TAIL = 3000  # characters of a server's output shown in an error


class ServerError(RuntimeError):
    """A server exited, did not answer, or did not stop; the message holds its output."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def url_of(port: int) -> str:
    return f"http://{HOST}:{port}"


def answers(url: str, *, timeout: float = 1) -> bool:
    """Whether `GET url` answers 200 (False when nothing answers or the reply is another)."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


# ---- an app in this process ----------------------------------------------------------------


class _Log(logging.Handler):
    """Keeps what uvicorn logs while a server starts, for the error if it does not."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def serving(app: Any, *, log_level: str = "error") -> Iterator[str]:
    """Run `app` in a real uvicorn server (a thread) on a free port; yield its URL."""
    import uvicorn  # the benchmarks import this module without needing uvicorn here

    config = uvicorn.Config(app, host=HOST, port=0, log_level=log_level, lifespan="on")
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run()
        except BaseException as exc:
            failure.append(exc)

    log = _Log()
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(log)
    thread = threading.Thread(target=run, name="uvicorn", daemon=True)
    try:
        thread.start()
        while not server.started:
            if not thread.is_alive():
                said = [*log.lines, *(repr(exc) for exc in failure)]
                raise ServerError("uvicorn stopped before it started:\n" + "\n".join(said))
            time.sleep(0.01)
    finally:
        uvicorn_log.removeHandler(log)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield url_of(port)
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_SECONDS)
        if thread.is_alive():  # connections still open: close them
            server.force_exit = True
            thread.join(timeout=STOP_SECONDS)
        if thread.is_alive():
            raise ServerError("uvicorn did not stop")


# ---- a child process -----------------------------------------------------------------------


@dataclass
class ServerProcess:
    """A server in a child process; its stdout and stderr are files (one when merged)."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    stdout_file: Path
    stderr_file: Path

    @property
    def url(self) -> str:
        return url_of(self.port)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    def stdout(self) -> str:
        return self.stdout_file.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_file.read_text(errors="replace")

    def output(self) -> str:
        """What it wrote (stdout then stderr when they are two files), for an error."""
        if self.stderr_file == self.stdout_file:
            return self.stdout()
        return self.stdout() + self.stderr()

    def fail(self, what: str) -> ServerError:
        tail = self.output()[-TAIL:]
        return ServerError(f"{self.name} (pid {self.proc.pid}) {what}; its output:\n{tail}")

    def wait_ready(
        self,
        path: str = "/healthz",
        *,
        timeout: float = READY_SECONDS,
        probe: Callable[[], bool] | None = None,
    ) -> None:
        """Wait until `GET <url><path>` answers 200 (or `probe()` is true)."""
        check = probe or (lambda: answers(self.url + path))
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise self.fail(f"exited with {self.proc.returncode} before answering {path}")
            try:
                if check():
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise self.fail(f"did not answer {path} within {timeout:.0f} s")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, *, timeout: float = STOP_SECONDS) -> int:
        """Send `sig` (by PID) and wait for the exit; SIGKILL if it takes over `timeout`."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        return self.proc.returncode


@contextmanager
def server_process(
    argv: Sequence[str],
    *,
    port: int,
    logs: Path,
    name: str = "server",
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    merge_output: bool = True,
    ready: str | None = "/healthz",
    timeout: float = READY_SECONDS,
    probe: Callable[[], bool] | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Iterator[ServerProcess]:
    """`argv` in a child process for the block: its output in `<logs>/<name>-<port>.log`
    (stderr in `.err` unless merged); ready when `GET ready` answers 200 (or `probe()` is
    true; `ready=None` does not wait); stopped by its PID with `stop_signal` at the end."""
    logs.mkdir(parents=True, exist_ok=True)
    out_file = logs / f"{name}-{port}.log"
    err_file = out_file if merge_output else logs / f"{name}-{port}.err"
    with out_file.open("wb") as out, out if merge_output else err_file.open("wb") as err:
        proc = subprocess.Popen(
            list(argv),
            env=None if env is None else dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if merge_output else err,
        )
    server = ServerProcess(name, proc, port, out_file, err_file)
    try:
        if ready is not None or probe is not None:
            server.wait_ready(ready or "", timeout=timeout, probe=probe)
        yield server
    finally:
        server.stop(stop_signal)


# ---- Prometheus ----------------------------------------------------------------------------

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


@contextmanager
def prometheus(
    targets: Sequence[str], *, logs: Path, rule_files: Sequence[Path] = ()
) -> Iterator[ServerProcess]:
    """A real Prometheus (ready) scraping `targets` ("127.0.0.1:N") every second as the job
    `syncplanet`, evaluating `rule_files` every second; its data under `logs`."""
    port = free_port()
    config = logs / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        **({"rule_files": [str(path) for path in rule_files]} if rule_files else {}),
        "scrape_configs": [{"job_name": "syncplanet",
                            "static_configs": [{"targets": list(targets)}]}],
    }))  # fmt: skip
    command = [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={logs / 'tsdb'}",
               f"--web.listen-address={HOST}:{port}"]  # fmt: skip
    with server_process(command, port=port, logs=logs, name="prometheus", ready="/-/ready") as p:
        yield p
