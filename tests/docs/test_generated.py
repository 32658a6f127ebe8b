"""The generated parts of the docs (scripts/gen_docs.py) cover what the code has."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from prometheus_client import CollectorRegistry

from reconciler.core.manifest_schema import Kind, spec_keys
from reconciler.services.metrics import Metrics
from spctl import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_docs", module)
    spec.loader.exec_module(module)
    return module


def test_spctl_reference_has_every_command(gen: ModuleType) -> None:
    import typer.main

    text = gen.render_spctl()
    root = typer.main.get_command(app)
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(command, "commands", None) or {"": command}
        for sub in subs:
            title = f"## `spctl {name}{' ' + sub if sub else ''}`"
            assert title in text, title
    assert "`--db <" in text and "SPCTL_DB" in text


def test_metrics_table_has_every_series(gen: ModuleType) -> None:
    table = gen.render_metrics()
    registry = CollectorRegistry()
    Metrics(registry)
    names = {family.name for family in registry.collect()}
    assert names
    for name in names:
        assert f"`{name}" in table, name
    for name in ("syncplanet_files", "syncplanet_store_up", "syncplanet_transfers_total"):
        assert f"| `{name}` |" in table


@pytest.mark.parametrize("kind", list(Kind))
def test_manifest_key_tables_have_every_key(gen: ModuleType, kind: Kind) -> None:
    table = gen.render_manifest_keys(kind.value)
    for key in spec_keys(kind):
        assert f"| `{key}` |" in table, key


def test_markers_are_replaced(gen: ModuleType) -> None:
    text = gen.expand("a\n<!-- generated: manifest-keys Hub -->\nb")
    assert "<!-- generated" not in text and "| `identityFile` |" in text
