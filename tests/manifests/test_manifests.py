"""Loading manifests: files and directories, YAML details, variables, env, the wire format."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.core.kinds import Kind
from reconciler.services.manifests import ManifestError, from_wire, load, parse_yaml, wire_body
from tests.manifests.helpers import ENV, V, doc, docs, read, volume, write


def names(path: Path) -> list[str]:
    return [m.ref for m in read(path)]


def test_a_directory_is_read_recursively_in_a_stable_order(tmp_path: Path) -> None:
    write(tmp_path / "b" / "z.yml", volume("zurich"))
    write(tmp_path / "a.yaml", volume("athens"))
    write(tmp_path / "b" / "a.yaml", volume("berlin") + "---\n" + volume("bonn"))
    write(tmp_path / "notes.txt", "not yaml: [")
    write(tmp_path / ".git" / "x.yaml", "broken: [")  # hidden folders are skipped
    write(tmp_path / ".gitlab-ci.yml", "stages: [diff]")  # hidden files too
    assert names(tmp_path) == ["volume/athens", "volume/berlin", "volume/bonn", "volume/zurich"]
    assert names(tmp_path / "b" / "z.yml") == ["volume/zurich"]


def test_empty_and_comment_only_documents_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "empty.yaml", "")
    write(tmp_path / "comments.yaml", "# nothing here yet\n---\n# still nothing\n")
    write(tmp_path / "mixed.yaml", "---\n---\n" + volume("paris") + "---\n# the end\n")
    assert names(tmp_path) == ["volume/paris"]


def test_a_list_document_holds_several_manifests(tmp_path: Path) -> None:
    path = write(
        tmp_path / "list.json",
        '[{"apiVersion": "syncplanet.io/v1", "kind": "Volume",'
        ' "metadata": {"name": "paris"}, "spec": {"url": "/srv/paris/"}}]',
    )
    assert names(path) == ["volume/paris"]


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file or directory"):
        read(tmp_path / "nope")


def test_syntax_errors_name_file_and_line() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_yaml("a: 1\nb: [1, 2\nc: 3\n", "tree/x.yaml")
    assert str(caught.value).startswith("tree/x.yaml: line 3: YAML syntax error:")


def billion_laughs() -> str:
    """A Volume whose `spec.url` is 9^9 (387 million) strings through nine levels of aliases."""
    lines = ['lol0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    spec = "\n".join(lines).replace("\n", "\n  ")
    return f"{V}kind: Volume\nmetadata: {{name: paris}}\nx:\n  {spec}\nspec: {{url: *l8}}\n"


def test_yaml_anchors_and_aliases_are_refused_with_file_and_line() -> None:
    started = time.monotonic()
    with pytest.raises(ManifestError) as caught:
        parse_yaml(billion_laughs(), "tree/bomb.yaml")
    assert time.monotonic() - started < 0.5
    assert str(caught.value) == (
        "tree/bomb.yaml: line 5: YAML anchors and aliases are not allowed in manifests (&l0)"
    )
    with pytest.raises(ManifestError, match=r"line 2: .* \(\*a\)"):  # an alias of a scalar
        parse_yaml("a: 1\nb: *a\n", "x.yaml")


def _limit_memory() -> None:
    # bounds the damage if the bomb ever expands again: MemoryError instead of the machine
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def test_spctl_apply_refuses_a_billion_laughs_at_once(tmp_path: Path) -> None:
    bomb = write(tmp_path / "bomb.yaml", billion_laughs())
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", "from spctl import main; main()", "apply", "-f", str(bomb)],
        env={**os.environ, "SPCTL_DB": f"sqlite:///{tmp_path / 'store.db'}", "SPCTL_SERVER": ""},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_memory,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert done.returncode != 0
    assert done.stderr.strip() == (
        f"error: {bomb}: line 5: YAML anchors and aliases are not allowed in manifests (&l0)"
    )
    assert elapsed < 10, elapsed  # interpreter start-up included; the refusal itself is instant


def test_status_and_null_values_are_ignored(tmp_path: Path) -> None:
    text = volume("paris", syncAmountEmission="null") + "status: {agentStatus: on, time: 5}\n"
    [m] = read(write(tmp_path / "v.yaml", text))
    assert m.spec == {"url": "/srv/paris/"}
    assert "status" not in m.document


def test_variables_are_expanded_in_path_keys_only(tmp_path: Path) -> None:
    text = docs(
        doc("Hub", "hub", "{url: '${SPCTL_HOME}/hub/', knownHosts: '${SPCTL_HOME}/kh'}"),
        volume("paris", url="file://${SPCTL_HOME}/paris/"),
        volume("rome", rsync_args="'--skip-compress=${SPCTL_HOME}'"),
    )
    hub, paris, rome = read(write(tmp_path / "t.yaml", text))
    assert hub.spec == {"url": "/data/home/hub/", "knownHosts": "/data/home/kh"}
    assert paris.spec["url"] == "file:///data/home/paris/"
    assert rome.spec["rsync_args"] == "--skip-compress=${SPCTL_HOME}"  # not a path key: untouched


def test_password_from_env_is_read_from_the_given_env(tmp_path: Path) -> None:
    path = write(tmp_path / "u.yaml", doc("User", "alice", "{passwordFromEnv: SPCTL_TEST_OTHER}"))
    [m] = read(path)
    assert m.password == "other"
    assert "other" not in repr(m)
    with pytest.raises(ManifestError, match="environment variable is not set"):
        read(path, env={})
    with pytest.raises(ManifestError, match="environment variable is not set"):
        read(path, env={"SPCTL_TEST_OTHER": ""})


def test_all_problems_are_kept_and_the_message_is_one_line(tmp_path: Path) -> None:
    text = docs(volume("Paris"), doc("Volume", "rome", "{enabled: 3}"))
    with pytest.raises(ManifestError) as caught:
        read(write(tmp_path / "t.yaml", text))
    problems = caught.value.problems
    assert len(problems) == 3
    assert problems[1].endswith(
        'Volume "rome" is invalid: spec.enabled: Invalid value: 3: must be a boolean'
    )
    assert problems[2].endswith('Volume "rome" is invalid: spec.url: Required value')
    assert str(caught.value).endswith("(and 2 more errors)")
    assert "\n" not in str(caught.value)


def test_the_wire_format_round_trips_with_the_env_values(tmp_path: Path) -> None:
    text = docs(
        volume("paris"),
        doc("User", "alice", "{class: admin, passwordFromEnv: SPCTL_TEST_PASSWORD}"),
        doc("SyncTarget", "all", "{paths: ['/**'], everywhere: true}"),
    )
    sent = read(write(tmp_path / "t.yaml", text))
    body = wire_body(sent)
    assert body["env"] == {"SPCTL_TEST_PASSWORD": ENV["SPCTL_TEST_PASSWORD"]}
    received = from_wire(body)
    assert [(m.kind, m.name, dict(m.spec), m.source, m.password) for m in received] == [
        (m.kind, m.name, dict(m.spec), m.source, m.password) for m in sent
    ]
    assert received[1].kind is Kind.USER


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "manifests: Required value"),
        ({"manifests": "x"}, "manifests: Required value"),
        ({"manifests": [{}], "sources": ["a", "b"]}, "sources: Invalid value"),
        ({"manifests": [], "env": {"A": 1}}, "env: Invalid value"),
        ({"manifests": [{"kind": "Volume"}]}, "request: manifest 1 is invalid: apiVersion"),
        (
            {
                "manifests": [
                    {
                        "apiVersion": "syncplanet.io/v1",
                        "kind": "Volume",
                        "metadata": {"name": "x1"},
                        "spec": {"url": "${SPCTL_HOME}/x/"},
                    }
                ]
            },
            "unknown variable ${SPCTL_HOME} (expanded: none)",
        ),
    ],
)
def test_bad_wire_bodies_are_refused(body: object, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        from_wire(body)
    assert message in str(caught.value)


def test_the_example_trees_are_valid(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2] / "manifests"
    env = {
        "SYNCPLANET_ALICE_PASSWORD": "a",
        "SYNCPLANET_BOB_PASSWORD": "b",
        "SPCTL_DEMO_ALICE_PASSWORD": "a",
        "SPCTL_DEMO_BOB_PASSWORD": "b",
    }
    for tree in ("production", "demo"):
        found = load(root / tree, env=env, variables={"SPCTL_HOME": "/data"})
        kinds = [m.kind for m in found]
        assert kinds.count(Kind.VOLUME) == 3 and kinds.count(Kind.USER) == 2
        assert kinds.count(Kind.HUB) == 1 and kinds.count(Kind.GLOBAL) == 1
        assert kinds.count(Kind.SYNCTARGET) >= 3
        assert all(m.spec.get("passwordFromEnv") for m in found if m.kind is Kind.USER)
