"""The hub host end of every transport: its shell and the private ControlMaster folder.

`connect` opens the hub shell for a Hub object (`LocalShell`, or one Fabric connection when
the hub is `ssh://`) and a private folder on the hub host for the OpenSSH ControlMaster
sockets that rsync's `ssh` reuses (architecture.md#performance), one sub-folder per job lane.
`disconnect` stops the masters kept for a set of sites and closes the shell; `remove_control_dirs`
deletes old folders once no job can use their sockets any more.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from collections.abc import Iterable

from reconciler.core.urls import SiteUrl
from reconciler.transport.shells import HubShell, LocalShell, hub_shell
from reconciler.transport.sites import open_site
from reconciler.transport.ssh import SshSettings, lane_dirs


def _control_dir(shell: HubShell, local: bool) -> str:
    """A private folder on the hub host for the ControlMaster sockets ("" if none)."""
    if local:
        base = tempfile.mkdtemp(prefix="spctl-ssh-")
        for path in lane_dirs(base):
            os.mkdir(path, 0o700)
        return base
    done = shell.run(["mktemp", "-d", "/tmp/spctl-ssh.XXXXXX"])
    base = done.stdout.decode().strip()
    if done.exit_code != 0 or not base:
        return ""
    made = shell.run(["mkdir", "-m", "700", *lane_dirs(base)])
    return base if made.exit_code == 0 else ""


def connect(hub: SiteUrl, *, identity_file: str, known_hosts: str) -> tuple[HubShell, SshSettings]:
    """The hub shell, and the SSH settings (with connection reuse) of commands run there."""
    shell = hub_shell(hub, SshSettings(identity_file, known_hosts))
    control_dir = _control_dir(shell, hub.local)
    return shell, SshSettings(identity_file, known_hosts, control_dir=control_dir)


def disconnect(shell: HubShell, ssh: SshSettings, sites: Iterable[SiteUrl]) -> None:
    """Stop the ControlMasters kept for `sites` (their folder stays: jobs may still run)."""
    if ssh.control_dir:
        for url in sites:
            open_site(url, shell=shell, ssh=ssh).disconnect()


def remove_control_dirs(shell: HubShell, dirs: Iterable[str]) -> None:
    for old in dirs:
        if isinstance(shell, LocalShell):
            shutil.rmtree(old, ignore_errors=True)
        else:
            shell.run(["sh", "-c", shlex.join(["rm", "-rf", old])])
