"""`spctl reconcile` as a user runs it: a separate process on the store file.

`--once` exits 0 when everything that can move has moved and 1 when errors remain; the loop
serves /metrics on `--metrics-port` and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.reconciler.conftest import World, WorldFactory, same_copy
from tests.support.sshd import free_port

pytestmark = pytest.mark.ssh

SPCTL = [sys.executable, "-c", "from reconciler.cli import main; main()"]


def spctl(w: World, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SPCTL, *args, "--db", str(w.store.engine.url)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SPCTL_HOME": str(home)},
    )


def test_reconcile_once_exits_zero_when_done_and_one_when_errors_remain(
    world: WorldFactory, tmp_path: Path
) -> None:
    w: World = world("paris", "london")
    w.publish("paris", "/ok.exr", b"ok")

    done = spctl(w, "reconcile", "--once", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "reconcile: done, nothing left that can move\n"
    assert same_copy(w.path("paris", "/ok.exr"), w.path("london", "/ok.exr"))
    assert "reception london: 1 planned, 1 delivered" in done.stderr

    w.publish("paris", "/missing.exr", None)
    failed = spctl(w, "reconcile", "--once", home=tmp_path)
    assert failed.returncode == 1
    assert failed.stdout == "reconcile: errors remain (see spctl status)\n"
    assert w.doc("/missing.exr")["syncError_hub"] == 23


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--server", "http://127.0.0.1:1"], "error: reconcile works on a store (--db)"),
        (["--log-level", "loud"], "error: --log-level: unknown level 'loud'"),
    ],
)
def test_reconcile_refuses_bad_options_in_one_line(
    world: WorldFactory, tmp_path: Path, args: list[str], message: str
) -> None:
    w: World = world("paris")
    result = spctl(w, "reconcile", "--once", *args, home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert "Traceback" not in result.stderr


def test_the_loop_serves_metrics_and_stops_on_sigterm(world: WorldFactory, tmp_path: Path) -> None:
    w: World = world("paris", "london")
    w.publish("paris", "/m.exr", b"metrics")
    port = free_port()
    proc = subprocess.Popen(
        [
            *SPCTL,
            "reconcile",
            "--metrics-port",
            str(port),
            "--db",
            str(w.store.engine.url),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "SPCTL_HOME": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = 'syncplanet_transfers_total{direction="reception",site="london"} 1.0'
        deadline = time.monotonic() + 60
        body = ""
        while line not in body and time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as reply:
                    body = reply.read().decode()
            except OSError:
                continue
        assert line in body
        assert 'syncplanet_volume_up{site="london"} 1.0' in body
        assert "syncplanet_reconcile_last_success_timestamp_seconds" in body
        assert same_copy(w.path("paris", "/m.exr"), w.path("london", "/m.exr"))
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


def test_scan_once_reports_each_volume_and_fails_for_an_unreachable_one(
    world: WorldFactory, tmp_path: Path
) -> None:
    w: World = world("paris", "london", "rome", enableScans=True)
    w.volume("paris", enableDiscovery=True)
    w.volume("london", enableDiscovery=True)
    w.write("paris", "/shots/a.exr", b"a")
    w.write("paris", "/shots/b.exr", b"b")

    first = spctl(w, "scan", "paris", home=tmp_path)
    assert (first.returncode, first.stdout) == (0, "scan paris: done, 2 listed, publish 2\n")
    assert w.doc("/shots/a.exr")["origin"] == "paris"
    assert spctl(w, "scan", home=tmp_path).stdout.splitlines() == [  # discovery on
        "scan london: done, 0 listed, nothing changed",
        "scan paris: done, 2 listed, nothing changed",
    ]
    assert spctl(w, "scan", "rome", home=tmp_path).stdout == (
        "scan rome: disabled (enableDiscovery on the volume, enableScans globally)\n"
    )

    w.sites["london"].stop()
    down = spctl(w, "scan", "paris", "london", home=tmp_path)
    assert down.returncode == 1
    lines = down.stdout.splitlines()
    assert lines[0] == "scan paris: done, 2 listed, nothing changed"
    assert lines[1].startswith("scan london: failed (exit 255): ")
    assert "Traceback" not in down.stderr


def test_scan_names_an_unknown_volume(world: WorldFactory, tmp_path: Path) -> None:
    w: World = world("paris")
    result = spctl(w, "scan", "nowhere", home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: VOLUME: no volume named 'nowhere' (volumes: paris)")
