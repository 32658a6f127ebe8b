"""The embedded default (`spctl run --demo`, `make run`): a local hub and demo volumes.

Everything lives under the data directory (`SPCTL_HOME`, default
~/.local/share/syncplanet): the demo manifests (package data `reconciler/services/demo_manifests/`,
copied as the example tree `manifests/demo/`) name a hub folder and one
folder per volume under `${SPCTL_HOME}/demo/`; this module creates those folders, gives the
demo users a password when the environment has none (kept in `demo/credentials.json` so a
restart signs in the same way), and applies the manifests through `reconciler.services.applier`,
exactly as `spctl apply -f manifests/demo` would.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.core.clock import now_ms
from reconciler.core.kinds import Kind
from reconciler.core.passwords import generate_password
from reconciler.core.urls import parse_url
from reconciler.services.applier import apply
from reconciler.services.manifests import load, password_variables
from reconciler.store import Store
from reconciler.store.private_files import private_dir, write_private

DEMO_AUTHOR = "demo"


def default_manifests() -> Path:
    """The demo manifests shipped inside the package (installed or editable alike).

    They are the source; `manifests/demo/` in the repository is the same files, kept as
    the example tree to apply by hand (a test checks the two are identical).
    """
    return Path(__file__).resolve().parent / "demo_manifests"


@dataclass(frozen=True)
class DemoSetup:
    applied: tuple[str, ...]  # apply's lines: `volume/paris created`...
    folders: Mapping[str, Path]  # site name -> its folder
    credentials: Mapping[str, str]  # user name -> password (those the demo generated)


def _credentials(home: Path, manifests_dir: Path, env: Mapping[str, str]) -> dict[str, str]:
    """Env values for the users' passwords: the environment's, else kept generated ones."""
    path = home / "demo" / "credentials.json"
    try:
        kept: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        kept = {}
    values: dict[str, str] = {}
    for var, user in password_variables(manifests_dir).items():
        if env.get(var):
            values[var] = env[var]
        else:
            values[var] = kept.get(user) or generate_password()
            kept[user] = values[var]
    if kept:
        private_dir(private_dir(home) / "demo")  # the data directory: 0700 when created here
        write_private(path, json.dumps(kept, indent=2))  # 0600 from the start
    return values


def setup_demo(
    store: Store, home: Path, env: Mapping[str, str], manifests_dir: Path | None = None
) -> DemoSetup:
    """Create the demo folders and apply the demo manifests to `store`."""
    manifests_dir = manifests_dir or default_manifests()
    passwords = _credentials(home, manifests_dir, env)
    manifests = load(manifests_dir, env={**env, **passwords}, variables={"SPCTL_HOME": str(home)})
    folders: dict[str, Path] = {}
    for m in manifests:
        if m.kind in (Kind.HUB, Kind.VOLUME):
            url = parse_url(str(m.spec["url"]))
            if url.local:
                folders[m.name] = Path(url.path)
                folders[m.name].mkdir(parents=True, exist_ok=True)
    outcomes = apply(store, manifests, dry_run=False, prune=False, now=now_ms(), author=DEMO_AUTHOR)
    users = {
        user: passwords[var]
        for var, user in password_variables(manifests_dir).items()
        if not env.get(var)
    }
    return DemoSetup(tuple(o.line(False) for o in outcomes), folders, users)
