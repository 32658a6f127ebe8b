"""Faults across a simulated ocean, end to end: real sshd sites behind the WAN proxy.

`lyon` (the origin) is reached directly; `paris` only through a `WanProxy` (its volume URL
names the proxy's port, and known_hosts the proxy's address with the site's host key).
Assertions are on files on disk, documents, and the bytes the proxy carried: a transfer
cut by a reset resumes from its partial data; a blackhole ends in recorded errors or a late
delivery, never in a `synced_` key for a copy that is not there, and everything converges
once the path is back.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from reconciler.core.domain import RESERVED_DIR, error_key, synced_key
from reconciler.store import Store
from tests.reconciler.conftest import World, same_copy
from tests.support.sshd import SshKeys, SshSite
from tests.support.wan import WanProxy

pytestmark = pytest.mark.ssh
MiB = 1024**2
BLACKHOLE = 25.0  # seconds: longer than two ssh ConnectTimeouts (10 s) one after the other


@pytest.fixture
def wan_world(
    tmp_path: Path, ssh_keys: SshKeys, ssh_site: Callable[[str], SshSite]
) -> Iterator[tuple[World, WanProxy]]:
    store = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    hub = tmp_path / "hub"
    hub.mkdir()
    sites = {"lyon": ssh_site("lyon"), "paris": ssh_site("paris")}
    world = World(store=store, hub=hub, keys=ssh_keys, sites=sites)
    world.configure()
    paris = sites["paris"]
    with WanProxy(paris.port, delay=0.01, rate=16 * MiB, buffer=MiB) as proxy:
        kind, key = (paris.dir / "host_ed25519.pub").read_text().split()[:2]
        ssh_keys.trust(f"[127.0.0.1]:{proxy.port}", f"{kind} {key}")
        world.volume("paris", url=f"ssh://{paris.user}@127.0.0.1:{proxy.port}{paris.root}/")
        try:
            yield world, proxy
        finally:
            world.close()
            store.close()


def when(condition: Callable[[], bool], action: Callable[[], object], limit: float) -> None:
    """Run `action` in a thread as soon as `condition` holds (polled, at most `limit` s)."""

    def watch() -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if condition():
                action()
                return
            time.sleep(0.01)

    threading.Thread(target=watch, daemon=True).start()


def no_false_synced(world: World, site: str) -> None:
    for file_id, doc in world.docs().items():
        if synced_key(site) in doc:
            assert same_copy(world.path("lyon", file_id), world.path(site, file_id)), file_id


def test_a_reset_mid_file_resumes_from_the_partial_data(
    wan_world: tuple[World, WanProxy],
) -> None:
    world, proxy = wan_world
    size = 48 * MiB  # 3 s at 16 MiB/s
    world.publish("lyon", "/plates/big.exr", os.urandom(size))
    before = proxy.up.bytes
    when(lambda: proxy.up.bytes - before >= size // 2, proxy.reset, 60)
    assert world.reconcile()  # errors: the connection went away mid-file
    doc = world.doc("/plates/big.exr")
    assert synced_key("paris") not in doc and error_key("paris") in doc
    partial = world.root("paris") / RESERVED_DIR / "partial"
    kept = sum(p.stat().st_size for p in partial.rglob("*") if p.is_file())
    assert kept >= size // 4, "the partial data was not kept"
    second = proxy.up.bytes
    assert not world.reconcile()  # the volume answers again: retried at once
    resent = proxy.up.bytes - second
    assert synced_key("paris") in world.doc("/plates/big.exr")
    assert same_copy(world.path("lyon", "/plates/big.exr"), world.path("paris", "/plates/big.exr"))
    # from the partial data, not from zero: about what was missing, plus rsync's checksums
    assert resent < size - kept + size // 8, (resent, kept)


def test_a_blackhole_at_connection_time_ends_in_recorded_errors_then_converges(
    wan_world: tuple[World, WanProxy],
) -> None:
    world, proxy = wan_world
    ids = [f"/shots/s{i}.exr" for i in range(4)]
    for file_id in ids:
        world.publish("lyon", file_id, os.urandom(256 * 1024))
    # every connection attempt of the pass falls inside it: the mount check's, then the
    # batch's, each given up by ssh's ConnectTimeout (10 s) during the key exchange
    proxy.blackhole(BLACKHOLE)
    start = time.monotonic()
    assert world.reconcile()
    assert time.monotonic() - start < BLACKHOLE
    for file_id in ids:
        doc = world.doc(file_id)
        assert synced_key("paris") not in doc and error_key("paris") in doc
        assert synced_key("hub") in doc  # the other legs carried on
    assert world.doc("volume/paris").get("agentStatus") != "on"
    time.sleep(max(0.0, BLACKHOLE + 0.5 - (time.monotonic() - start)))
    assert not world.reconcile()
    for file_id in ids:
        assert synced_key("paris") in world.doc(file_id)
        assert same_copy(world.path("lyon", file_id), world.path("paris", file_id))


def test_a_blackhole_during_a_batch_never_records_a_false_copy(
    wan_world: tuple[World, WanProxy],
) -> None:
    world, proxy = wan_world
    ids = [f"/plates/p{i}.exr" for i in range(8)]
    for file_id in ids:
        world.publish("lyon", file_id, os.urandom(4 * MiB))  # 32 MiB: 2 s at 16 MiB/s
    before = proxy.up.bytes
    when(lambda: proxy.up.bytes - before >= 8 * MiB, lambda: proxy.blackhole(20), 60)
    start = time.monotonic()
    world.reconcile()  # the streams stall (TCP would retransmit), then finish or fail
    assert time.monotonic() - start >= 15
    no_false_synced(world, "paris")
    for _ in range(3):  # bounded: converges once the path is back
        if not world.reconcile():
            break
    for file_id in ids:
        assert synced_key("paris") in world.doc(file_id)
    no_false_synced(world, "paris")
