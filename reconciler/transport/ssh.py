"""How the hub host reaches `ssh://` sites: the client options, and one ssh per job lane.

Purely computational: builds `ssh` argument vectors and rsync's `-e` value, never runs them.
Host keys are always checked (`StrictHostKeyChecking=yes` against `Hub.spec.knownHosts`),
the key is `Hub.spec.identityFile`, and every command ends ssh's options with `--` before the
host. With a ControlMaster directory, connections to a site are reused
(architecture.md#performance); jobs that may run at the same time for one site (emission, reception,
trash purge) each get their own sockets (`lane`): two ssh clients racing to become the master of one
path orphan one of them. A scan's listing has its own lane too: it starts while the volume marker is
read.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, replace

from reconciler.core.urls import SiteUrl

LANES = ("emission", "reception", "purge", "scan")


@dataclass(frozen=True)
class SshSettings:
    """How the hub host reaches volumes: key and known_hosts paths on the hub host."""

    identity_file: str = ""
    known_hosts: str = ""
    control_dir: str = ""  # OpenSSH ControlMaster sockets (connection reuse); "" = off

    def options(self, port: int | None = None) -> list[str]:
        opts = [
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "ConnectTimeout=10",
            "-o",
            "ServerAliveInterval=15",
        ]
        if self.identity_file:
            opts += ["-i", self.identity_file, "-o", "IdentitiesOnly=yes"]
        if self.known_hosts:
            opts += ["-o", f"UserKnownHostsFile={self.known_hosts}"]
        if self.control_dir:
            opts += [
                "-o",
                "ControlMaster=auto",
                "-o",
                f"ControlPath={self.control_dir}/%C",
                "-o",
                "ControlPersist=60",
            ]
        if port:
            opts += ["-p", str(port)]
        return opts

    def _login(self, url: SiteUrl) -> list[str]:
        return [*self.options(url.port), *(["-l", url.user] if url.user else [])]

    def ssh_argv(self, url: SiteUrl, *extra: str) -> list[str]:
        """`ssh ... -- host` (append a remote command, already shell-quoted).

        `--` ends ssh's options: neither the host nor the command that follows can be read
        as one (ssh otherwise parses options again after the host)."""
        return ["ssh", *self._login(url), *extra, "--", str(url.host)]

    def rsync_rsh(self, url: SiteUrl) -> str:
        """The value of rsync's `-e`, ending with `--`: rsync appends the host after it.

        rsync splits this string itself (quotes, no shell); locations carry no `user@`."""
        return shlex.join(["ssh", *self._login(url), "--"])

    def lane(self, name: str) -> SshSettings:
        """The settings of one job lane: its own ControlMaster sockets under `control_dir`."""
        if not self.control_dir:
            return self
        return replace(self, control_dir=f"{self.control_dir}/{name}")


def lane_dirs(control_dir: str) -> list[str]:
    """The lane folders to create under a ControlMaster directory."""
    return [f"{control_dir}/{name}" for name in LANES]
