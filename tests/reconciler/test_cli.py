"""`spctl reconcile` as a user runs it: a separate process on the store file.

`--once` exits 0 only when the desired state is reached, 4 when what is left is leased by
another live worker or waits for a retry (saying how many and until when), 1 when errors
remain otherwise; the loop serves /metrics on `--metrics-port` and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from reconciler.core.clock import now_ms
from reconciler.jobs.scheduler import open_session
from reconciler.store import queue
from tests.reconciler.conftest import World, WorldFactory, same_copy
from tests.support.servers import free_port, server_process
from tests.support.spctl import SPCTL, reconcile_argv

pytestmark = pytest.mark.ssh


def spctl(w: World, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SPCTL, *args, "--db", str(w.store.engine.url)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SPCTL_HOME": str(home)},
    )


def test_reconcile_once_exits_zero_when_done_and_four_when_a_file_waits_for_retry(
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
    assert failed.returncode == 4, failed.stderr
    assert re.fullmatch(
        r"reconcile: 1 waits for retry \(next at \d\d:\d\d:\d\d\) \(see spctl status\)\n",
        failed.stdout,
    )
    assert w.doc("/missing.exr")["syncError_hub"] == 23


def test_reconcile_once_names_the_live_worker_holding_files_and_exits_four(
    world: WorldFactory, tmp_path: Path
) -> None:
    w: World = world("paris", "london")
    for i in range(3):
        w.publish("paris", f"/held/{i}.exr", b"held")
    w.publish("paris", "/free.exr", b"free")
    other = open_session(w.store, worker_id="render7:4242")  # alive: this test's process
    try:
        until = now_ms() + 60_000
        with w.store.write() as tx:
            ids = [f"/held/{i}.exr" for i in range(3)]
            assert queue.claim(tx, "hub", ids, other.worker.id, now_ms(), until) == ids
        left = spctl(w, "reconcile", "--once", home=tmp_path)
        assert left.returncode == 4, left.stderr
        assert re.fullmatch(
            r"reconcile: 3 files leased by worker render7:4242 until \d\d:\d\d:\d\d\n",
            left.stdout,
        )
        assert same_copy(w.path("paris", "/free.exr"), w.path("london", "/free.exr"))
        assert not w.path("hub", "/held/0.exr").exists()
    finally:
        other.close()  # its leases go with it: the next run moves everything
    done = spctl(w, "reconcile", "--once", home=tmp_path)
    assert (done.returncode, done.stdout) == (0, "reconcile: done, nothing left that can move\n")
    assert same_copy(w.path("paris", "/held/2.exr"), w.path("london", "/held/2.exr"))


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
    argv = reconcile_argv(str(w.store.engine.url), "--metrics-port", str(port))
    with server_process(
        argv, port=port, logs=tmp_path / "logs", name="reconcile",
        env={**os.environ, "SPCTL_HOME": str(tmp_path)}, merge_output=False, ready="/metrics",
    ) as reconciler:  # fmt: skip
        line = 'syncplanet_transfers_total{direction="reception",site="london"} 1.0'
        deadline = time.monotonic() + 60
        body = ""
        while line not in body and time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                with urllib.request.urlopen(f"{reconciler.url}/metrics") as reply:
                    body = reply.read().decode()
            except OSError:
                continue
        assert line in body
        assert 'syncplanet_volume_up{site="london"} 1.0' in body
        assert "syncplanet_reconcile_last_success_timestamp_seconds" in body
        assert same_copy(w.path("paris", "/m.exr"), w.path("london", "/m.exr"))
    assert reconciler.returncode == 0, reconciler.stderr()


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


def test_scan_holds_mass_deletions_until_confirmed_and_adopts_a_new_root(
    world: WorldFactory, tmp_path: Path
) -> None:
    w: World = world("paris", enableScans=True)
    w.volume("paris", enableDiscovery=True)
    for i in range(3):
        w.write("paris", f"/f{i}.exr", b"x")
    assert spctl(w, "scan", "paris", home=tmp_path).returncode == 0
    for i in range(2):
        w.path("paris", f"/f{i}.exr").unlink()
    held = spctl(w, "scan", "paris", home=tmp_path)
    assert held.returncode == 3  # 2 of 3 files: more than maxDeletionsPercent (10 %)
    assert held.stdout.startswith(
        "scan paris: done, 1 listed, nothing changed, 2 deletions held (2 files gone from this "
        "origin: more than maxDeletionsPercent (10%) of 3 files; none marked deleted."
    )
    assert "paris: DELETIONS HELD: 2 files gone" in spctl(w, "status", home=tmp_path).stdout
    unnamed = spctl(w, "scan", "--confirm-deletions", home=tmp_path)
    assert unnamed.returncode == 2 and "need the VOLUME names" in unnamed.stderr
    done = spctl(w, "scan", "paris", "--confirm-deletions", home=tmp_path)
    assert (done.returncode, done.stdout) == (0, "scan paris: done, 1 listed, delete 2\n")
    assert "DELETIONS HELD" not in spctl(w, "status", home=tmp_path).stdout

    (w.root("paris") / ".syncplanet/volume.json").unlink()  # another share mounted there
    failed = spctl(w, "scan", "paris", home=tmp_path)
    assert failed.returncode == 1
    assert failed.stdout.startswith("scan paris: failed (exit 4): volume root ")
    status = spctl(w, "status", home=tmp_path).stdout
    assert "no (not mounted)" in status and "paris: NOT MOUNTED: volume root" in status
    adopted = spctl(w, "scan", "paris", "--adopt", home=tmp_path)
    assert (adopted.returncode, adopted.stdout) == (
        0,
        "scan paris: done, 1 listed, nothing changed\n",
    )
    assert "NOT MOUNTED" not in spctl(w, "status", home=tmp_path).stdout


def test_get_workers_and_status_list_the_live_workers(world: WorldFactory, tmp_path: Path) -> None:
    w: World = world("paris")
    w.publish("paris", "/a.exr", b"a")
    assert spctl(w, "get", "workers", home=tmp_path).stderr == "No workers running.\n"
    other = open_session(w.store, worker_id="render7:4242")
    try:
        with w.store.write() as tx:
            queue.claim(tx, "hub", ["/a.exr"], "render7:4242", now_ms(), now_ms() + 60_000)
        with other.worker.running("emission:paris"):  # a job running across the reads
            other.worker.beat()
            shown = spctl(w, "get", "workers", home=tmp_path)
            assert shown.returncode == 0, shown.stderr
            header, row = shown.stdout.splitlines()
            assert header.split() == ["WORKER", "HOST", "PID", "STARTED", "LAST", "HEARTBEAT",
                                      "JOBS", "LEASES"]  # fmt: skip
            assert row.split()[:3] == ["render7:4242", os.uname().nodename, str(os.getpid())]
            assert row.split()[-2:] == ["emission:paris", "1"]
            listed = spctl(w, "get", "workers", "-o", "json", home=tmp_path).stdout
            (as_json,) = json.loads(listed)
            assert as_json["jobs"] == ["emission:paris"] and as_json["leases"] == 1
            assert as_json["alive"] is True
            status = spctl(w, "status", home=tmp_path)
            assert "\nWORKER " in status.stdout and "render7:4242" in status.stdout
    finally:
        other.close()
    assert spctl(w, "get", "workers", home=tmp_path).stdout == ""
