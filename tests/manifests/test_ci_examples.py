"""The CI examples under manifests/ci/ really work: their shell lines run against a tracker.

The jobs' shell lines are taken from the YAML files and run with bash and the installed
`spctl`, as a CI runner would, on a copy of manifests/production/; the merge-request job
posts the impact table to a local HTTP server standing in for the GitLab / GitHub API.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import yaml

from tests.manifests.conftest import Tracker

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "manifests" / "ci"


def gitlab_script(name: str) -> list[str]:
    """Every line of a GitLab job (its `before_script`, the pip install, left out)."""
    return list(yaml.safe_load((CI / "gitlab-ci.yml").read_text())[name]["script"])


def github_script(name: str) -> list[str]:
    """Every `run` step of a GitHub job but the pip install."""
    job = yaml.safe_load((CI / "github-actions.yml").read_text())["jobs"][name]
    runs = [step["run"] for step in job["steps"] if "run" in step]
    return [r for r in runs if not r.startswith("pip install")]


def gitlab_job(name: str) -> list[str]:
    return [line for line in gitlab_script(name) if line.startswith("spctl ")]


def github_job(name: str) -> list[str]:
    return [line for line in github_script(name) if line.startswith("spctl ")]


def run_lines(
    lines: list[str],
    tracker: Tracker,
    manifests: Path,
    home: Path,
    *,
    ok: bool = True,
    extra_env: dict[str, str] | None = None,
) -> list[subprocess.CompletedProcess[str]]:
    """Run each line like a CI runner would, with bash and the installed spctl, in `home`
    (lines share files, not shell variables, as GitHub's steps do); stop at a failure."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "MANIFESTS": str(manifests),
        "SPCTL_MAX_BYTES": "500G",
        "SPCTL_APPROVAL_LABEL": yaml.safe_load((CI / "gitlab-ci.yml").read_text())["variables"][
            "SPCTL_APPROVAL_LABEL"
        ],
        "SPCTL_SERVER": tracker.url,
        "SPCTL_TOKEN": tracker.token,
        "SPCTL_DB": "",
        "XDG_CONFIG_HOME": str(home),
        "SYNCPLANET_ALICE_PASSWORD": "alice-pw",
        "SYNCPLANET_BOB_PASSWORD": "bob-pw",
        **(extra_env or {}),
    }
    done = []
    for line in lines:
        done.append(
            subprocess.run(["bash", "-ec", line], env=env, capture_output=True, text=True, cwd=home)
        )
        if ok:
            assert done[-1].returncode == 0, f"{line}: {done[-1].stderr}"
        elif done[-1].returncode:
            break
    return done


def outputs(lines: list[str], tracker: Tracker, manifests: Path, home: Path) -> list[str]:
    return [d.stdout for d in run_lines(lines, tracker, manifests, home)]


def test_both_examples_run_the_same_commands() -> None:
    assert gitlab_job("diff") == github_job("diff")
    assert gitlab_job("apply") == github_job("apply") == ['spctl apply -f "$MANIFESTS" --prune']
    gitlab = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["variables"]
    github = yaml.safe_load((CI / "github-actions.yml").read_text())["env"]
    for key in ("MANIFESTS", "SPCTL_MAX_BYTES", "SPCTL_APPROVAL_LABEL"):
        assert gitlab[key] == github[key]


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
    assert again[0] == "No change to what any site receives.\n"
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
    done = run_lines(gitlab_script("diff"), tracker, tree, tmp_path, ok=False)
    assert [d.returncode for d in done] == [0, 0, 2]
    assert "20-volumes.yaml: document 1 (line 1) is invalid: metadata: Required value" in (
        done[0].stderr
    )


class ApiSink(BaseHTTPRequestHandler):
    """Stands in for the GitLab / GitHub API: records each POST, answers 201."""

    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(201)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def api_sink() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Sink", (ApiSink,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        thread.join()


def posted_text(platform: str, request: dict[str, Any]) -> str:
    if platform == "gitlab":
        assert request["path"] == "/api/v4/projects/7/merge_requests/42/notes"
        assert request["headers"]["PRIVATE-TOKEN"] == "api-token"
        return str(parse_qs(request["body"])["body"][0])
    assert request["path"] == "/repos/studio/prod/issues/42/comments"
    assert request["headers"]["Authorization"] == "Bearer api-token"
    return str(json.loads(request["body"])["body"])


@pytest.mark.parametrize("platform", ["gitlab", "github"])
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_merge_request_posts_the_impact_and_big_moves_need_the_label(
    tracker: Tracker,
    tmp_path: Path,
    api_sink: tuple[str, list[dict[str, Any]]],
    platform: str,
) -> None:
    tree = tmp_path / "production"
    shutil.copytree(ROOT / "manifests" / "production", tree)
    outputs(gitlab_job("apply"), tracker, tree, tmp_path)
    with tracker.store.write() as tx:
        tx.insert_many(
            [{"_id": f"/renders/sh{i}/f.exr", "origin": "paris", "time": 1000,
              "file_size": 2**20, "synced_paris": 1000, "synced_hub": 1000} for i in range(12)]
        )  # fmt: skip
    targets = tree / "40-synctargets.yaml"
    renders = targets.read_text().replace(
        "sites: [paris, london]", "sites: [paris, london, montreal]"
    )
    targets.write_text(renders)
    url, received = api_sink
    if platform == "gitlab":
        script = gitlab_script("diff")
        ci = {"CI_API_V4_URL": f"{url}/api/v4", "CI_PROJECT_ID": "7",
              "CI_MERGE_REQUEST_IID": "42", "GITLAB_API_TOKEN": "api-token"}  # fmt: skip
        labels = "CI_MERGE_REQUEST_LABELS"
    else:
        script = github_script("diff")
        ci = {"GITHUB_API_URL": url, "GITHUB_REPOSITORY": "studio/prod", "PR_NUMBER": "42",
              "GH_TOKEN": "api-token"}  # fmt: skip
        labels = "PR_LABELS"
    label = yaml.safe_load((CI / "gitlab-ci.yml").read_text())["variables"]["SPCTL_APPROVAL_LABEL"]

    def job(max_bytes: str, with_labels: str) -> list[subprocess.CompletedProcess[str]]:
        for stale in ("impact.txt", "impact.status", "impact.md", "impact.json"):
            (tmp_path / stale).unlink(missing_ok=True)
        env = {**ci, "SPCTL_MAX_BYTES": max_bytes, labels: with_labels}
        return run_lines(script, tracker, tree, tmp_path, ok=False, extra_env=env)

    blocked = job("10M", "")
    assert [d.returncode for d in blocked] == [0, 0, 1]
    assert "montreal would receive 12.0 MiB" in blocked[0].stderr
    assert f"add the label {label} to approve" in blocked[2].stderr
    [note] = received
    table = posted_text(platform, note)
    assert "--- live/synctarget/renders" in table
    assert "SITE" in table and "montreal" in table and "12 (12.0 MiB)" in table

    approved = job("10M", f"other,{label}")
    assert [d.returncode for d in approved] == [0, 0, 0, 0]
    assert "approved by label" in approved[2].stdout
    assert "synctarget/renders configured (dry run)" in approved[3].stdout
    assert [d.returncode for d in job("1G", "")] == [0, 0, 0, 0]
    assert len(received) == 3
    # an approval label left unset in the CI settings approves nothing
    env = {**ci, "SPCTL_MAX_BYTES": "10M", labels: "", "SPCTL_APPROVAL_LABEL": ""}
    unset = run_lines(script, tracker, tree, tmp_path, ok=False, extra_env=env)
    assert [d.returncode for d in unset] == [0, 0, 1]
