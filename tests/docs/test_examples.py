"""Console examples in the docs that claim real output are run and compared.

A ```` ```console ```` block right after `<!-- checked: SCENARIO -->` is checked: each
`$ command` runs in order (`export` and `cd` carry over to the next ones, see `Session`), and
what it prints (stdout and stderr) must match the lines shown under it. The session starts in a
throwaway checkout shown in the docs as `/srv/syncplanet`: `.venv/` and `manifests/` of this
repository, `demo/` a copy of `manifests/demo/`, `SPCTL_HOME=$PWD/.data` (what `make run`
uses), `spctl` on the PATH and the demo users' password variables set. Scenarios:

- `fresh`: an empty data directory;
- `demo`: the demo set up as `spctl run --demo` does (folders, manifests applied);
- `continue`: the state the previous checked block of the same page left.

Only the stable parts are compared: timestamps, "5s ago", millisecond times, durations and
the checkout's path are masked on both sides, runs of spaces count as one (column widths
follow the data), a line `...` stands for any number of lines, and a last line `[exit N]`
gives the exit status (0 when absent).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.services.demo import setup_demo
from reconciler.store import Store
from spctl import app

ROOT = Path(__file__).resolve().parents[2]
SHOWN_CHECKOUT = "/srv/syncplanet"
PASSWORDS = {"SPCTL_DEMO_ALICE_PASSWORD": "alice-demo-pw", "SPCTL_DEMO_BOB_PASSWORD": "bob-demo-pw"}
BLOCK = re.compile(r"^<!-- checked: (fresh|demo|continue) -->\n+```console\n(.*?)^```", re.M | re.S)
EXIT = re.compile(r"^\[exit (\d+)\]$")
MASKS = [
    (re.compile(r"\d{8}T\d{6}(?:\.\d+)?Z"), "<stamp>"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d+)?Z?"), "<time>"),
    (re.compile(r"\b\d+(?:\.\d+)?(?:ms|s|m|h|d) ago\b"), "<ago>"),
    (re.compile(r"\b1\d{12}\b"), "<ms>"),
    (re.compile(r"\b\d+\.\d+s\b"), "<seconds>"),
]


@dataclass(frozen=True)
class Step:
    command: str
    expected: tuple[str, ...]
    exit_code: int


@dataclass(frozen=True)
class Example:
    page: Path
    line: int
    scenario: str
    steps: tuple[Step, ...]


def parse_steps(block: str) -> tuple[Step, ...]:
    """`$ command` lines (a trailing `\\` continues one), each followed by its output."""
    steps: list[Step] = []
    command: list[str] = []
    output: list[str] = []

    def close() -> None:
        if not command:
            return
        code = 0
        if output and EXIT.match(output[-1]):
            code = int(EXIT.match(output.pop())[1])  # type: ignore[index]
        steps.append(Step("\n".join(command), tuple(output), code))

    continued = False
    for line in block.splitlines():
        if continued:
            command.append(line)
            continued = line.endswith("\\")
        elif line.startswith("$ "):
            close()
            command, output = [line[2:]], []
            continued = line.endswith("\\")
        else:
            output.append(line)
    close()
    return tuple(steps)


def examples(page: Path) -> list[Example]:
    text = page.read_text()
    return [
        Example(page, text.count("\n", 0, m.start()) + 1, m[1], parse_steps(m[2]))
        for m in BLOCK.finditer(text)
    ]


def groups() -> Iterator[list[Example]]:
    """Each fresh/demo example with the `continue` examples that follow it on its page."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    for page in pages:
        group: list[Example] = []
        for example in examples(page):
            if example.scenario != "continue" and group:
                yield group
                group = []
            assert group or example.scenario != "continue", (
                f"{page}:{example.line}: nothing to continue"
            )
            group.append(example)
        if group:
            yield group


def stable(text: str, checkout: Path) -> str:
    text = text.replace(str(checkout), SHOWN_CHECKOUT)
    for pattern, mask in MASKS:
        text = pattern.sub(mask, text)
    return "\n".join(re.sub(r"\s+", " ", line).strip() for line in text.splitlines())


def matches(expected: tuple[str, ...], actual: str) -> bool:
    parts = []
    for line in expected:
        parts.append(r"(?:[^\n]*\n)*?" if line.strip() == "..." else re.escape(line) + r"\n")
    return re.fullmatch("".join(parts), actual + "\n" if actual else "") is not None


class Session:
    """Runs one block's commands in order, carrying the environment and folder across them.

    A plain `spctl ...` (no pipe, redirection or variable) runs in this process through
    Typer's CliRunner, as the CLI tests do (a new interpreter per command would cost a second
    of imports each); anything else runs in bash, whose environment and folder afterwards
    become the session's (so `export` and `cd` carry over).
    """

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env

    def run(self, command: str) -> tuple[str, int]:
        args = in_process_args(command)
        return self._spctl(args) if args is not None else self._bash(command)

    def _spctl(self, args: list[str]) -> tuple[str, int]:
        unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SPCTL_")}
        before = Path.cwd()
        os.chdir(self.cwd)
        try:
            result = CliRunner().invoke(app, args, env={**unset, **self.env})
        finally:
            os.chdir(before)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.output.removesuffix("\n"), result.exit_code

    def _bash(self, command: str, timeout: float = 120) -> tuple[str, int]:
        with tempfile.TemporaryDirectory() as tmp:
            state = Path(tmp)
            script = (
                f"{{ {command}\n}} </dev/null 2>&1\nrc=$?\n"
                f'env -0 > "{state}/env"; pwd > "{state}/pwd"; exit $rc\n'
            )
            done = subprocess.run(
                ["bash", "--noprofile", "--norc", "-c", script],
                cwd=self.cwd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            items = (state / "env").read_text().split("\0")
            self.env = dict(item.split("=", 1) for item in items if "=" in item)
            self.cwd = Path((state / "pwd").read_text().strip())
        return done.stdout.removesuffix("\n"), done.returncode


def in_process_args(command: str) -> list[str] | None:
    """The arguments of a plain `spctl` command line, or None when it needs a shell."""
    line = re.split(r"\s#", command, maxsplit=1)[0]
    if not line.startswith("spctl ") or re.search(r"[|<>;&$`\\\n]", line):
        return None
    return shlex.split(line)[1:]


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "syncplanet"
    root.mkdir()
    (root / ".venv").symlink_to(sys.prefix)
    (root / "manifests").symlink_to(ROOT / "manifests")
    shutil.copytree(ROOT / "manifests" / "demo", root / "demo")
    return root


def environment(checkout: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPCTL_")}
    env.update(PASSWORDS)
    env.update(
        SPCTL_HOME=str(checkout / ".data"),
        XDG_CONFIG_HOME=str(checkout / ".config"),  # spctl login's tokens stay in here
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        TZ="UTC",
        LC_ALL="C.UTF-8",
    )
    return env


def set_up_demo(checkout: Path) -> None:
    home = checkout / ".data"
    home.mkdir()
    store = Store.open(f"sqlite:///{home / 'syncplanet.db'}")
    try:
        setup_demo(store, home, PASSWORDS)
    finally:
        store.close()


GROUPS = list(groups())


def test_the_docs_have_checked_examples() -> None:
    pages = {group[0].page.name for group in GROUPS}
    commands = [step.command for group in GROUPS for example in group for step in example.steps]
    assert {"getting-started.md", "manifests.md"} <= pages
    for verb in ("apply", "get", "status", "describe", "publish", "explain"):
        assert any(c.startswith(f"spctl {verb} ") or c == f"spctl {verb}" for c in commands), verb


@pytest.mark.parametrize(
    "group", GROUPS, ids=[f"{g[0].page.relative_to(ROOT)}:{g[0].line}" for g in GROUPS]
)
def test_console_example(group: list[Example], checkout: Path) -> None:
    if group[0].scenario == "demo":
        set_up_demo(checkout)
    session = Session(checkout, environment(checkout))
    for example in group:
        for step in example.steps:
            where = f"{example.page.relative_to(ROOT)}:{example.line}: $ {step.command}"
            output, code = session.run(step.command)
            actual = stable(output, checkout)
            expected = tuple(stable(line, checkout) for line in step.expected)
            assert matches(expected, actual), (
                f"{where}\n--- shown in the docs\n"
                + "\n".join(step.expected)
                + f"\n--- printed now (masked)\n{actual}"
            )
            assert code == step.exit_code, f"{where}: exit {code}, docs say {step.exit_code}"


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        (("a", "...", "d"), "a\nb\nc\nd", True),
        (("a", "..."), "a", True),
        (("a", "c"), "a\nb\nc", False),
        (("synced <time>",), "synced", False),
        ((), "", True),
        (("x",), "", False),
    ],
)
def test_matches(expected: tuple[str, ...], actual: str, ok: bool) -> None:
    assert matches(expected, actual) is ok


def test_stable_masks_what_changes_between_runs(tmp_path: Path) -> None:
    printed = f"paris  {tmp_path}/.data/x  2026-12-02 13:31:11Z    3s ago  1796218239438  0.07s"
    shown = "paris /srv/syncplanet/.data/x 2026-11-27 04:55:08Z 10m ago 1795752982296 1.5s"
    assert stable(printed, tmp_path) == stable(shown, tmp_path)


def test_plain_spctl_commands_run_in_process() -> None:
    assert in_process_args('spctl publish /a --comment "first lamp"  # note `x`') == [
        "publish",
        "/a",
        "--comment",
        "first lamp",
    ]
    assert in_process_args("spctl get volumes | grep paris") is None
    assert in_process_args("echo $SPCTL_HOME") is None
