"""`spctl diff --impact` as a user runs it: the installed `spctl` in a separate process,
with `--db` and with `--server` (a real tracker), on SQLite and PostgreSQL.

Also the two `spctl diff` details of issue 16: an unset `passwordFromEnv` variable is a
warning (the password compares as unchanged), and `--prune` on a partial tree says that a
stored volume would be pruned instead of calling it unknown.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.core.domain import RECEIVED_BYTES_KEY, RECEPTION_SECONDS_KEY
from reconciler.store import Store
from tests.manifests.conftest import Target
from tests.manifests.helpers import doc, docs, volume, write

SPCTL = str(Path(sys.executable).parent / "spctl")
MIB = 1024 * 1024
Run = Callable[..., subprocess.CompletedProcess[str]]


def tree(renders_sites: str) -> str:
    return docs(
        doc("Hub", "hub", "{url: /srv/hub/}"),
        volume("london"),
        volume("paris"),
        volume("montreal"),
        doc("SyncTarget", "renders", f"{{paths: ['/renders/**'], sites: {renders_sites}}}"),
        doc("GlobalParameters", "rsyncGlobalParameters", "{syncEverywhere: false}"),
    )


@pytest.fixture
def spctl(spctl_target: Target) -> Run:
    where, env = spctl_target.args, {**os.environ, **spctl_target.env}

    def run(
        *args: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SPCTL, *args, *where],
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


@pytest.fixture
def production(spctl: Run, store_url: str, tmp_path: Path) -> Path:
    """Applied: renders go to paris; 40 renders of 1 MiB from london, on the hub; montreal's
    receptions measured at 1 MiB/s."""
    path = write(tmp_path / "tree.yaml", tree("[paris]"))
    assert spctl("apply", "-f", str(path)).returncode == 0
    store = Store.open(store_url)
    with store.write() as tx:
        tx.insert_many(
            [
                {"_id": f"/renders/r{i:02d}.exr", "origin": "london", "time": 1000,
                 "file_size": MIB, "synced_london": 1000, "synced_hub": 1000}
                for i in range(40)
            ]
        )  # fmt: skip
        tx.patch("volume/montreal", {RECEIVED_BYTES_KEY: 3600 * MIB, RECEPTION_SECONDS_KEY: 3600})
    store.close()
    return path


def test_impact_table_json_and_exit_codes(spctl: Run, production: Path) -> None:
    write(production, tree("[paris, montreal]"))
    shown = spctl("diff", "-f", str(production), "--impact")
    assert shown.returncode == 1, shown.stderr
    assert "+  - montreal\n" in shown.stdout  # the unified diff comes first
    table = shown.stdout.split("\n\n", 1)[1].splitlines()
    assert table[0].split() == ["SITE", "NEWLY", "WANTED", "NO", "LONGER", "WANTED",
                                "PRIORITY", "CHANGES", "ETA"]  # fmt: skip
    assert table[1].split() == ["montreal", "40", "(40.0", "MiB)", "0", "0", "~1m"]
    assert any("never deleted" in line or "ETA" in line for line in table[2:])

    data = json.loads(spctl("diff", "-f", str(production), "--impact", "-o", "json").stdout)
    assert [o["object"] for o in data["objects"]] == ["synctarget/renders"]
    [site] = data["impact"]["sites"]
    assert site["site"] == "montreal"
    assert site["newlyWanted"] == {"files": 40, "bytes": 40 * MIB}
    assert site["throughputBytesPerSecond"] == MIB and site["etaSeconds"] == 40

    over = spctl("diff", "-f", str(production), "--max-bytes", "39M")
    assert over.returncode == 3
    assert "montreal would receive 40.0 MiB" in over.stderr
    under = spctl("diff", "-f", str(production), "--max-bytes", "1.5G", "-o", "json")
    assert under.returncode == 1 and json.loads(under.stdout)["impact"]["overMaxBytes"] == []
    bad = spctl("diff", "-f", str(production), "--max-bytes", "lots")
    assert bad.returncode == 2 and bad.stderr.startswith("error: --max-bytes: invalid size")

    assert spctl("apply", "-f", str(production)).returncode == 0
    same = spctl("diff", "-f", str(production), "--impact")
    assert (same.returncode, same.stdout) == (0, "No change to what any site receives.\n")

    write(production, tree("[montreal]"))
    dropped = spctl("diff", "-f", str(production), "--impact").stdout.split("\n\n", 1)[1]
    assert dropped.splitlines()[1].split() == ["paris", "0", "40", "(40.0", "MiB)", "0", "-"]
    assert "copies already there are kept, never deleted" in dropped


def test_unset_password_variable_is_a_warning_for_diff(spctl: Run, tmp_path: Path) -> None:
    path = write(tmp_path / "u.yaml", doc("User", "carol", "{passwordFromEnv: CAROL_PW}"))
    created = spctl("apply", "-f", str(path), extra_env={"CAROL_PW": "c4rol"})
    assert created.returncode == 0, created.stderr
    same = spctl("diff", "-f", str(path))
    assert (same.returncode, same.stdout) == (0, "")
    assert same.stderr == (
        f'warning: {path}: User "carol": spec.passwordFromEnv: environment variable '
        '"CAROL_PW" is not set (or empty) where spctl runs: the password is compared as '
        "unchanged\n"
    )
    changed = spctl("diff", "-f", str(path), extra_env={"CAROL_PW": "other"})
    assert changed.returncode == 1 and "# password: changed" in changed.stdout
    refused = spctl("apply", "-f", str(path))
    assert refused.returncode == 2 and "environment variable is not set" in refused.stderr


def test_diff_prune_on_a_partial_tree_says_the_volume_would_be_pruned(
    spctl: Run, tmp_path: Path
) -> None:
    path = write(tmp_path / "t.yaml", tree("[paris, montreal]"))
    assert spctl("apply", "-f", str(path)).returncode == 0
    renders = doc("SyncTarget", "renders", "{paths: ['/renders/**'], sites: [paris, montreal]}")
    write(path, docs(volume("paris"), renders))
    partial = spctl("diff", "-f", str(path), "--prune")
    assert partial.returncode == 2
    assert partial.stderr == (
        f'error: {path}: SyncTarget "renders" is invalid: spec.sites[1]: Not found: '
        '"montreal": volume/montreal is in the store but not in the manifests, so --prune '
        "would prune it\n"
    )
    without_prune = spctl("diff", "-f", str(path))
    assert without_prune.returncode == 0, without_prune.stderr
