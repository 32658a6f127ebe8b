"""A reconciler killed with SIGKILL in the middle of a transfer, then restarted.

The transfer is slowed with a user rsync option (`--bwlimit`) so the kill lands while rsync
is moving data. The whole process group is killed (rsync and ssh included): nothing gets a
chance to clean up. No `synced_` key may be false afterwards, and a restarted reconciler
must converge (stale `syncing_` keys removed, expired leases taken over).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from reconciler.core.domain import SITE_KEY_PREFIXES
from tests.reconciler.conftest import World, WorldFactory, no_false_synced
from tests.support.spctl import kill_worker_when, reconcile_argv

pytestmark = pytest.mark.ssh


def test_sigkill_mid_transfer_leaves_no_false_synced_and_a_restart_converges(
    world: WorldFactory, tmp_path: Path
) -> None:
    w: World = world("paris", "london", leaseSeconds=2)
    # KiB/s: ~1.3 s per file below, one file per batch so the kill lands between keys
    w.volume("paris", rsync_args="--bwlimit=400", syncAmountEmission=1)
    w.volume("london", rsync_args="--bwlimit=400")
    files = [f"/big/{i}.bin" for i in range(4)]
    for i, file_id in enumerate(files):
        w.publish("paris", file_id, bytes([i]) * 512 * 1024)
    env = {**os.environ, "SPCTL_HOME": str(tmp_path)}
    argv = reconcile_argv(str(w.store.engine.url))

    def mid_batch() -> bool:  # the first file reached the hub, the rest is on its way
        now = list(w.docs().values())
        return any("synced_hub" in d for d in now) and any("syncing_hub" in d for d in now)

    kill_worker_when(argv, env, mid_batch)

    docs = w.docs()
    assert any("syncing_hub" in d for d in docs.values())  # killed mid-batch: keys left
    assert not all("synced_hub" in d for d in docs.values())
    no_false_synced(w)

    w.volume("paris", rsync_args="")
    w.volume("london", rsync_args="")
    second = subprocess.Popen(
        argv,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and no_false_synced(w) < 2 * len(files):
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=60)
    assert second.returncode == 0, err

    assert no_false_synced(w) == 2 * len(files)
    for doc in w.docs().values():
        assert [
            k for k in doc if k.startswith(SITE_KEY_PREFIXES) and not k.startswith("synced_")
        ] == []
    for site in ("hub", "london"):
        leftovers = [p for p in (w.root(site) / "big").iterdir() if p.name.startswith(".")]
        assert leftovers == []  # temp files live under .syncplanet/tmp, never in the tree
    done = subprocess.run([*argv, "--once"], env=env, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (0, "reconcile: done, nothing left that can move\n")
