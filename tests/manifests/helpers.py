"""Shared test helpers for the manifests tests: cheap passwords, snapshots, tree writing."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import argon2
import sqlalchemy as sa

from reconciler.core.passwords import Passwords
from reconciler.services import applier
from reconciler.services.manifests import Manifest, load
from reconciler.store import Store
from reconciler.store.schema import applied, file_sites, nodes

# Real argon2id, at a cost that keeps the suite fast.
CHEAP = Passwords(argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
ENV = {"SPCTL_TEST_PASSWORD": "s3cret", "SPCTL_TEST_OTHER": "other"}
VARIABLES = {"SPCTL_HOME": "/data/home"}
V = "apiVersion: syncplanet.io/v1\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def doc(kind: str, name: str, spec: str) -> str:
    """One manifest document; `spec` is a YAML flow mapping such as `{url: /srv/x/}`."""
    return f"{V}kind: {kind}\nmetadata: {{name: {name}}}\nspec: {spec}\n"


def docs(*items: str) -> str:
    return "---\n".join(items)


def volume(name: str, url: str | None = None, **spec: Any) -> str:
    lines = "".join(f"  {k}: {v}\n" for k, v in spec.items())
    head = f"{V}kind: Volume\nmetadata: {{name: {name}}}\n"
    return f"{head}spec:\n  url: {url or f'/srv/{name}/'}\n{lines}"


def read(path: Path, env: dict[str, str] | None = None) -> list[Manifest]:
    return load(path, env=ENV if env is None else env, variables=VARIABLES)


def apply(
    store: Store, path: Path, *, dry_run: bool = False, prune: bool = False, now: int = 1000
) -> list[str]:
    outcomes = applier.apply(
        store,
        read(path),
        dry_run=dry_run,
        prune=prune,
        now=now,
        author="tester",
        passwords=CHEAP,
    )
    return [f"{o.ref} {o.action.value}" for o in outcomes]


def snapshot(store: Store) -> dict[str, Any]:
    """Every row a declarative operation could touch."""
    with store.read() as tx:
        docs = tx.conn.execute(sa.select(nodes.c.id, nodes.c.doc)).all()
        rows = tx.conn.execute(sa.select(file_sites)).all()
        return {
            "nodes": sorted((r[0], repr(sorted(r[1].items()))) for r in docs),
            "applied": sorted(r[0] for r in tx.conn.execute(sa.select(applied.c.id))),
            "file_sites": sorted(tuple(str(v) for v in r) for r in rows),
        }
