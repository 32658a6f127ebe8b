"""One site transport per implementation, on real roots: a folder on the hub host, and a
real sshd site (tests/support/sshd.py) reached with rsync over SSH, run by a hub shell on
this host or on a remote hub host through Fabric (another sshd, the same hub folder).

`site` is parametrized over the implementations: every test that takes it runs once per
transport. A `Site` gives the transport, the site's root and the hub root on disk, and
`take_down()`, which makes the site unreachable the way it happens in production: the sshd
stops (its kept-open connections with it), or the local root disappears (an unmounted disk).
The hub side is what a reconciler session opens (`reconciler.transport.hub.connect`), with
its ControlMaster folder and lanes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.core.urls import SiteUrl, parse_url
from reconciler.transport import hub as hub_host
from reconciler.transport.options import NO_OPTIONS, MergedOptions
from reconciler.transport.protocol import Batch, SiteTransport
from reconciler.transport.sites import open_site
from tests.support.sshd import SshKeys, SshSite

# The implementations; "ssh-fabric-hub": rsync over SSH run on a remote hub host (Fabric);
# "-streams": every batch split across STREAMS parallel rsync runs (`Batch.streams`).
IMPLEMENTATIONS = [
    "local",
    "local-streams",
    pytest.param("ssh", marks=pytest.mark.ssh),
    pytest.param("ssh-streams", marks=pytest.mark.ssh),
    pytest.param("ssh-fabric-hub", marks=pytest.mark.ssh),
]
STREAMS = 3
NOW = 1_700_000_000_000


@dataclass
class Site:
    kind: str
    transport: SiteTransport
    root: Path  # the site's root on disk
    hub: Path  # the hub's root on disk (the other end of every transfer)
    take_down: Callable[[], None]
    streams: int = 1

    def batch(self, *file_ids: str, now: int = NOW, options: MergedOptions = NO_OPTIONS) -> Batch:
        hub = f"{self.hub}/"
        return Batch(file_ids, hub_root=hub, options=options, now=now, streams=self.streams)


@pytest.fixture(params=IMPLEMENTATIONS)
def site(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    ssh_keys: SshKeys,
    ssh_site: Callable[[str], SshSite],
) -> Iterator[Site]:
    hub = tmp_path / "hub"
    hub.mkdir()
    hub_url = SiteUrl(path=f"{hub}/")
    if request.param == "ssh-fabric-hub":  # the same folder, reached as another host
        host = ssh_site("hubhost")
        hub_url = parse_url(f"ssh://{host.user}@127.0.0.1:{host.port}{hub}/")
    shell, ssh = hub_host.connect(
        hub_url, identity_file=str(ssh_keys.identity), known_hosts=str(ssh_keys.known_hosts)
    )
    if request.param.startswith("local"):
        root = tmp_path / "site-local" / "root"
        root.mkdir(parents=True)
        url = parse_url(f"file://{root}/")

        def take_down() -> None:
            root.rename(root.with_name("unmounted"))

    else:
        sshd = ssh_site("paris")
        url, root = parse_url(sshd.url), sshd.root

        def take_down() -> None:
            transport.disconnect()  # a host that goes away takes its connections with it
            sshd.stop()

    transport = open_site(url, shell=shell, ssh=ssh)
    streams = STREAMS if request.param.endswith("-streams") else 1
    yield Site(request.param.split("-")[0], transport, root, hub, take_down, streams)
    hub_host.disconnect(shell, ssh, [url])
    hub_host.remove_control_dirs(shell, [ssh.control_dir])
    shell.close()
