"""`tests.support.servers`: a server that answers is served and then stopped; one that dies
or never answers is reported with its own output; one that ignores SIGTERM is killed."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import (
    ServerError,
    answers,
    free_port,
    server_process,
    serving,
)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_server_process_is_ready_then_stopped(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)]
    with server_process(argv, port=port, logs=tmp_path, cwd=tmp_path, ready="/") as server:
        assert server.returncode is None
        assert answers(server.url + "/")
    assert server.returncode == -signal.SIGTERM
    assert not answers(server.url + "/")
    assert '"GET / HTTP/1.1" 200' in server.output()  # its log, kept after the stop


def test_a_process_that_exits_is_reported_with_its_stderr(tmp_path: Path) -> None:
    code = "import sys; print('no store here', file=sys.stderr); sys.exit(3)"
    started = server_process(python(code), port=free_port(), logs=tmp_path, merge_output=False)
    with pytest.raises(ServerError, match="exited with 3 before answering") as error, started:
        pytest.fail("not ready")
    assert "no store here" in str(error.value)


def test_a_process_that_never_answers_is_reported_and_can_be_stopped(tmp_path: Path) -> None:
    code = "import time; print('listening nowhere', flush=True); time.sleep(600)"
    with server_process(python(code), port=free_port(), logs=tmp_path, ready=None) as server:
        with pytest.raises(ServerError, match="did not answer /healthz") as error:
            server.wait_ready(timeout=0.5)
        assert server.returncode is None  # still running: the error is the wait's
    assert server.returncode == -signal.SIGTERM  # stopped all the same
    assert f"pid {server.proc.pid}" in str(error.value)


def test_a_process_that_ignores_the_signal_is_killed(tmp_path: Path) -> None:
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ignoring', flush=True); time.sleep(600)"
    )
    with server_process(python(code), port=free_port(), logs=tmp_path, ready=None) as server:
        server.wait_ready(probe=lambda: "ignoring" in server.stdout())
        assert server.stop(timeout=0.5) == -signal.SIGKILL
    assert server.returncode == -signal.SIGKILL


async def ok_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def failing_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await receive()
    raise RuntimeError("no store at start-up")


def test_serving_an_app_in_this_process() -> None:
    with serving(ok_app) as url:
        assert url.startswith("http://127.0.0.1:")
        assert answers(url + "/anything")
    assert not answers(url + "/anything")


def test_an_app_failing_at_start_up_is_reported_with_what_uvicorn_said() -> None:
    started = serving(failing_app)
    with pytest.raises(ServerError, match="stopped before it started") as error, started:
        pytest.fail("not started")
    assert "no store at start-up" in str(error.value)
