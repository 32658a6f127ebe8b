"""`reconciler.store.lite`: the sqlite3-only reads of `spctl get` agree with the full store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command

from reconciler.core.kinds import KINDS
from reconciler.services import applier
from reconciler.services.declarative import live_objects
from reconciler.services.demo import setup_demo
from reconciler.store import Store
from reconciler.store import engine as engines
from reconciler.store.lite import open_current


def demo_store(home: Path) -> str:
    url = f"sqlite:///{home / 'store.db'}"
    store = Store.open(url)
    try:
        setup_demo(store, home, {})
    finally:
        store.close()
    return url


def test_lite_reads_what_the_store_reads(tmp_path: Path) -> None:
    url = demo_store(tmp_path)
    store = Store.open(url)
    try:
        for info in KINDS.values():
            reader = open_current(url)
            assert reader is not None
            with reader:
                assert live_objects(reader, info) == applier.get(store, info)
                for obj in applier.get(store, info):
                    name = obj["metadata"]["name"]
                    assert live_objects(reader, info, name) == applier.get(store, info, name)
                assert live_objects(reader, info, "nobody") == []
    finally:
        store.close()


def test_lite_declines_what_a_full_store_must_open(tmp_path: Path) -> None:
    assert open_current(f"sqlite:///{tmp_path / 'missing.db'}") is None
    assert open_current("sqlite:///:memory:") is None
    assert open_current("postgresql://postgres@127.0.0.1/test") is None
    old = f"sqlite:///{tmp_path / 'old.db'}"
    engine = engines.make_engine(old)
    try:
        cfg = engines.alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0005_signin_attempts")
    finally:
        engine.dispose()
    assert open_current(old) is None  # to migrate: the full Store does it


def test_spctl_get_on_sqlite_loads_no_sqlalchemy(tmp_path: Path) -> None:
    """pydantic is loaded: the keys and defaults `get` shows are the kinds' models."""
    url = demo_store(tmp_path)
    code = (
        "import sys\n"
        "from spctl import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = [m for m in ('sqlalchemy', 'alembic', 'fastapi', 'uvicorn', 'httpx')\n"
        "         if m in sys.modules]\n"
        "print('loaded:', ' '.join(heavy), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "get", "volumes", "--db", url],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "paris" in done.stdout, done.stderr
    assert done.stderr.strip() == "loaded:"
