"""The two site transports, side by side, and `open_site` that picks one from the URL.

- `LocalTransport`: a root on the hub host itself (`file:///path/` or `/path/`, a NAS mounted
  there, or the hub's own root): rsync between two local paths, snippets run by `sh -c`.
- `SshTransport`: an `ssh://` root on another host: rsync's `-e ssh ... --`, snippets run as
  `ssh ... -- host 'snippet'`, each job lane with its own ControlMaster sockets
  (`reconciler.transport.ssh`), whose parallel rsync streams are channels of that one
  master; `disconnect` stops those masters.
Both run every command through the hub shell (`reconciler.transport.shells`): on this host,
or on a remote hub host through Fabric. What they share is `reconciler.transport.rsync`.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.core.domain import Direction
from reconciler.core.urls import SiteUrl
from reconciler.transport.commands import probe_script
from reconciler.transport.options import MergedOptions
from reconciler.transport.protocol import Batch, SiteTransport, TransferOutcome
from reconciler.transport.rsync import BASE, RsyncTransport
from reconciler.transport.shells import HubShell
from reconciler.transport.ssh import LANES, SshSettings


class LocalTransport(RsyncTransport):
    """A root on the hub host (see the module docstring)."""

    def _rsh(self, lane: str) -> str | None:
        return None

    def _at_site(self, lane: str, script: str) -> list[str]:
        return ["sh", "-c", script]


class SshTransport(RsyncTransport):
    """An `ssh://` root reached from the hub host with OpenSSH (see the module docstring)."""

    def _settings(self, lane: str) -> SshSettings:
        return self.ssh.lane(lane) if lane else self.ssh

    def _rsh(self, lane: str) -> str | None:
        return self._settings(lane).rsync_rsh(self.url)

    def _at_site(self, lane: str, script: str) -> list[str]:
        return [*self._settings(lane).ssh_argv(self.url), script]

    def _warm(self, lane: str) -> None:
        """Start the lane's ControlMaster with one probe: parallel streams racing to become
        the master of one socket would orphan all but one."""
        self._run(self._at_site(lane, probe_script(self.url.path)))

    def disconnect(self) -> None:
        """Stop the OpenSSH ControlMasters kept for this site (they would linger otherwise)."""
        if not self.ssh.control_dir:
            return
        for lane in (BASE, *LANES):
            self._run(self._settings(lane).ssh_argv(self.url, "-O", "exit"))


def open_site(url: SiteUrl, *, shell: HubShell, ssh: SshSettings) -> SiteTransport:
    """The transport of the root at `url`, reached from the hub host through `shell`."""
    if url.local:
        return LocalTransport(url, shell=shell, ssh=ssh)
    return SshTransport(url, shell=shell, ssh=ssh)


def run_batch(
    shell: HubShell,
    ssh: SshSettings,
    *,
    direction: Direction,
    hub: SiteUrl,
    volume: SiteUrl,
    file_ids: Sequence[str],
    options: MergedOptions,
    now: int,
) -> TransferOutcome:
    """One batch between the hub root and `volume`, either way (a shortcut for tests)."""
    site = open_site(volume, shell=shell, ssh=ssh)
    batch = Batch(file_ids, hub_root=hub.path, options=options, now=now)
    return site.send(batch) if direction is Direction.EMISSION else site.receive(batch)
