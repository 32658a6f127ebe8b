"""A remote hub (`ssh://`): rsync runs on the hub host, reached through Fabric.

The hub host is its own sshd serving the hub folder; from there rsync reaches the volumes
over SSH with the hub's identityFile and knownHosts, as in production.
"""

from __future__ import annotations

import pytest

from reconciler.transport.shells import FabricShell
from tests.reconciler.conftest import SiteFactory, World, WorldFactory, same_copy

pytestmark = pytest.mark.ssh


def test_files_travel_through_a_hub_reached_over_ssh(
    world: WorldFactory, ssh_site: SiteFactory
) -> None:
    w: World = world("paris", "london", configure=False)
    hubhost = ssh_site("hubhost")
    w.hub = hubhost.root
    w.configure(hub_url=hubhost.url)
    w.publish("paris", "/x/remote hub 'é'.exr", b"through fabric" * 50)
    w.publish("paris", "/x/pkg/", None)
    w.write("paris", "/x/pkg/member", b"m")

    session = w.session()
    assert isinstance(session.rt.shell, FabricShell)
    session.close()
    assert w.reconcile() is False

    for file_id in ("/x/remote hub 'é'.exr", "/x/pkg/member"):
        for site in ("hub", "london"):
            assert same_copy(w.path("paris", file_id), w.path(site, file_id)), site
    doc = w.doc("/x/remote hub 'é'.exr")
    assert doc["synced_hub"] >= doc["time"] and doc["synced_london"] >= doc["time"]
    assert doc["file_size"] == len(b"through fabric" * 50)
    assert (hubhost.root / ".syncplanet" / "partial").is_dir()
