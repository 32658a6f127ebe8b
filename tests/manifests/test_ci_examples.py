"""The CI examples under manifests/ci/ really work: their spctl lines run against a tracker.

The jobs' shell lines are taken from the YAML files and run with bash and the installed
`spctl`, as a CI runner would, on a copy of manifests/production/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.manifests.conftest import Tracker

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "manifests" / "ci"


def gitlab_job(name: str) -> list[str]:
    job = yaml.safe_load((CI / "gitlab-ci.yml").read_text())[name]
    return [line for line in job["script"] if "spctl" in line]


def github_job(name: str) -> list[str]:
    job = yaml.safe_load((CI / "github-actions.yml").read_text())["jobs"][name]
    return [step["run"] for step in job["steps"] if "spctl" in step.get("run", "")]


def run_lines(
    lines: list[str], tracker: Tracker, manifests: Path, home: Path, *, ok: bool = True
) -> list[subprocess.CompletedProcess[str]]:
    """Run each line like a CI runner would, with bash and the installed spctl."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "MANIFESTS": str(manifests),
        "SPCTL_SERVER": tracker.url,
        "SPCTL_TOKEN": tracker.token,
        "SPCTL_DB": "",
        "XDG_CONFIG_HOME": str(home),
        "SYNCPLANET_ALICE_PASSWORD": "alice-pw",
        "SYNCPLANET_BOB_PASSWORD": "bob-pw",
    }
    done = []
    for line in lines:
        done.append(subprocess.run(["bash", "-ec", line], env=env, capture_output=True, text=True))
        if ok:
            assert done[-1].returncode == 0, f"{line}: {done[-1].stderr}"
    return done


def outputs(lines: list[str], tracker: Tracker, manifests: Path, home: Path) -> list[str]:
    return [d.stdout for d in run_lines(lines, tracker, manifests, home)]


def test_both_examples_run_the_same_commands() -> None:
    assert gitlab_job("diff") == github_job("diff")
    assert gitlab_job("apply") == github_job("apply") == ['spctl apply -f "$MANIFESTS" --prune']


# One backend is enough here: the CLI and the routes run on both in test_cli.py.
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_gitlab_jobs_diff_then_apply_then_nothing_to_do(tracker: Tracker, tmp_path: Path) -> None:
    tree = tmp_path / "production"
    shutil.copytree(ROOT / "manifests" / "production", tree)
    diff_out, dry_out = outputs(gitlab_job("diff"), tracker, tree, tmp_path)
    assert "+++ manifests/volume/paris" in diff_out
    assert "volume/paris created (dry run)" in dry_out
    [applied] = outputs(gitlab_job("apply"), tracker, tree, tmp_path)
    assert "volume/montreal created" in applied
    again = outputs(gitlab_job("diff") + gitlab_job("apply"), tracker, tree, tmp_path)
    assert again[0] == ""
    assert all(line.endswith("unchanged") for line in again[2].splitlines())
    # a merge request removing montreal: the diff job shows it, apply --prune removes it
    volumes = tree / "20-volumes.yaml"
    volumes.write_text(volumes.read_text().split("# The render farm")[0].rstrip("-\n"))
    targets = tree / "40-synctargets.yaml"
    targets.write_text(targets.read_text().replace(", montreal]", "]"))
    diff_out, _ = outputs(gitlab_job("diff"), tracker, tree, tmp_path)
    assert "--- live/volume/montreal" in diff_out
    [applied] = outputs(gitlab_job("apply"), tracker, tree, tmp_path)
    assert "volume/montreal pruned" in applied and "synctarget/caches configured" in applied
    # an invalid manifest fails the diff job
    volumes.write_text("apiVersion: syncplanet.io/v1\nkind: Volume\n")
    [failed] = run_lines(gitlab_job("diff")[:1], tracker, tree, tmp_path, ok=False)
    assert failed.returncode != 0
    assert "20-volumes.yaml: document 1 (line 1) is invalid: metadata: Required value" in (
        failed.stderr
    )
