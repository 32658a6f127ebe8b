"""Real sshd sites on 127.0.0.1 for tests (see shared TESTING.md).

One sshd per site, each with its own config, host key and port, key-only login. A test can
stop a site to take it down and start it again. The client key and known_hosts are shared by
all the sites of a test session, like a hub's key installed on every volume.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.servers import free_port

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


@dataclass
class SshKeys:
    """The hub's client key and the known_hosts file every site's host key is added to."""

    dir: Path
    identity: Path = field(init=False)
    known_hosts: Path = field(init=False)
    authorized_keys: Path = field(init=False)

    def __post_init__(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.identity = self.dir / "id_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.authorized_keys = self.dir / "authorized_keys"
        if not self.identity.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.identity)],
                check=True,
            )
        shutil.copy(self.identity.with_suffix(".pub"), self.authorized_keys)
        self.known_hosts.touch()

    def trust(self, host: str, key: str) -> None:
        """`host`'s key in known_hosts, replacing an older line for it: a port freed by a
        stopped sshd can be handed to the next one, and paramiko checks only the first key it
        finds for a host (OpenSSH tries each)."""
        lines = self.known_hosts.read_text().splitlines()
        kept = [line for line in lines if line.split(" ", 1)[0] != host]
        tmp = self.known_hosts.with_suffix(".tmp")
        tmp.write_text("".join(f"{line}\n" for line in [*kept, f"{host} {key}"]))
        tmp.replace(self.known_hosts)


@dataclass
class SshSite:
    """One volume served by its own sshd; `root` is the volume's directory."""

    name: str
    dir: Path
    keys: SshKeys
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        return self.dir / "root"

    @property
    def user(self) -> str:
        return getpass.getuser()

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{self.root}/"

    def _config(self) -> Path:
        host_key = self.dir / "host_ed25519"
        if not host_key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True
            )
            pub = host_key.with_suffix(".pub").read_text().split()
            self.keys.trust(f"[127.0.0.1]:{self.port}", f"{pub[0]} {pub[1]}")
        conf = self.dir / "sshd_config"
        conf.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.keys.authorized_keys}",
                    "PermitRootLogin prohibit-password",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "UseDNS no",
                    "MaxStartups 200:30:400",
                    "MaxSessions 200",
                    "LogLevel ERROR",
                    "SetEnv SHLVL=1",
                    "",
                ]
            )
        )
        return conf

    def start(self) -> SshSite:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.root.mkdir(parents=True, exist_ok=True)
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        conf = self._config()
        subprocess.run([SSHD, "-t", "-f", str(conf)], check=True)
        pidfile = self.dir / "sshd.pid"
        pidfile.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            [SSHD, "-D", "-f", str(conf), "-E", str(self.dir / "sshd.log")]
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"sshd for {self.name} did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def ssh(self, *command: str) -> subprocess.CompletedProcess[bytes]:
        """Run a command on the site as the hub would (for assertions in tests)."""
        return subprocess.run(
            [
                "ssh",
                *client_options(self.keys),
                "-p",
                str(self.port),
                f"{self.user}@127.0.0.1",
                *command,
            ],
            capture_output=True,
            check=False,
        )


def client_options(keys: SshKeys) -> list[str]:
    return [
        "-i",
        str(keys.identity),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={keys.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
    ]


def sshd_available() -> bool:
    return os.path.exists(SSHD) and shutil.which("rsync") is not None
