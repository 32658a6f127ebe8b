"""Fixtures of the web page tests: a real `spctl run` with sshd volumes, and real Chromium.

`tracker` starts two volumes (`paris`, `tokyo`, each its own sshd on 127.0.0.1), a local hub
directory, and `spctl run` (API + reconciler in one process) as a subprocess on a fresh
SQLite store. An admin then creates, through the API, the hub, the volumes (paris's emission
off, so files stay "missing" until a test turns it on) and the users alice (user), gina
(guest) and ed (editor). `browser` is Debian's Chromium driven by Playwright, never a
downloaded one.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import free_port, server_process
from tests.support.spctl import SPCTL
from tests.support.sshd import SshKeys, SshSite

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORDS = {"alice": "alice-pw-1", "gina": "gina-pw-1", "ed": "ed-pw-1"}
CLASSES = {"alice": "user", "gina": "guest", "ed": "editor"}
ADMIN_PASSWORD = "admin-pw-1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class Tracker:
    url: str
    admin: httpx.Client
    hub: Path
    sites: dict[str, SshSite]
    log: Path

    def token(self, user: str) -> str:
        reply = httpx.post(
            f"{self.url}/api/signIn", json={"username": user, "password": PASSWORDS[user]}
        )
        reply.raise_for_status()
        token: str = reply.json()["token"]
        return token

    def read(self, node_id: str) -> dict[str, Any]:
        reply = self.admin.post("/api/read/", json=node_id)
        reply.raise_for_status()
        doc: dict[str, Any] = reply.json()
        return doc


def _configure(
    tracker_url: str, hub: Path, sites: dict[str, SshSite], keys: SshKeys
) -> httpx.Client:
    token = httpx.post(
        f"{tracker_url}/api/signIn", json={"username": "admin", "password": ADMIN_PASSWORD}
    ).json()["token"]
    admin = httpx.Client(
        base_url=tracker_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    docs: list[dict[str, Any]] = [
        {
            "_id": "hub/hub",
            "name": "hub",
            "url": f"{hub}/",
            "identityFile": str(keys.identity),
            "knownHosts": str(keys.known_hosts),
        },
        {
            "_id": "volume/paris",
            "name": "paris",
            "url": sites["paris"].url,
            "enableEmission": False,
        },
        {"_id": "volume/tokyo", "name": "tokyo", "url": sites["tokyo"].url},
        *(
            {"_id": f"@{name}", "class": CLASSES[name], "password": PASSWORDS[name]}
            for name in PASSWORDS
        ),
    ]
    reply = admin.post("/api/create/", json=docs)
    assert reply.status_code == 201, reply.text
    return admin


@pytest.fixture
def tracker(ssh_keys: SshKeys, tmp_path: Path) -> Iterator[Tracker]:
    sites = {
        name: SshSite(name=name, dir=tmp_path / f"site-{name}", keys=ssh_keys).start()
        for name in ("paris", "tokyo")
    }
    hub = tmp_path / "hub"
    hub.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "SPCTL_HOME": str(tmp_path / "home"),
        "SPCTL_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SPCTL_SECRET": "web-test-secret",
    }
    env.pop("SPCTL_DB", None)
    command = [
        *SPCTL, "run", "--port", str(port), "--db", f"sqlite:///{tmp_path / 'store.db'}",
        "--log-level", "warning",
    ]  # fmt: skip
    try:
        with server_process(
            command, port=port, logs=tmp_path, name="spctl-run", env=env,
            stop_signal=signal.SIGINT,
        ) as server:  # fmt: skip
            admin = _configure(server.url, hub, sites, ssh_keys)
            yield Tracker(url=server.url, admin=admin, hub=hub, sites=sites, log=server.stdout_file)
            admin.close()
    finally:
        for site in sites.values():
            site.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is required (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the browser tests save their screenshots: a temporary folder, or the README's
    `docs/screenshots/` with SPCTL_UPDATE_SCREENSHOTS=1 (so a plain test run leaves the
    working tree clean)."""
    if os.environ.get("SPCTL_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return SCREENSHOTS
    return tmp_path_factory.mktemp("screenshots")
