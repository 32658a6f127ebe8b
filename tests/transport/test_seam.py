"""The seam holds: no product module outside `reconciler/transport/` builds an rsync or ssh
command line, nor opens SSH itself.

The check reads the syntax tree of every module of `reconciler/` and `api/` (docstrings and
comments may still name rsync): a string literal that is a command name (`"rsync"`,
`"ssh"`...) or starts a command line with one (`"rsync -a ..."`, an f-string too), or one of
the options the transports rely on (`--files-from`, `--backup-dir`...), or an import of an
SSH library, is a command built in the wrong place.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("reconciler", "api", "spctl")
TRANSPORT = ROOT / "reconciler" / "transport"
COMMANDS = frozenset({"rsync", "ssh", "scp", "sftp", "sshpass"})
OPTIONS = (
    "--files-from",
    "--partial-dir",
    "--backup-dir",
    "--out-format",
    "--rsh",
    "--protect-args",
)
SSH_LIBRARIES = frozenset({"fabric", "paramiko", "asyncssh"})


def _docstrings(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _compared(tree: ast.AST) -> set[int]:
    """Constants that are only compared (`parts.scheme == "ssh"`): reading a URL, not a command."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                if isinstance(operand, ast.Constant):
                    ids.add(id(operand))
    return ids


def _command_text(text: str) -> bool:
    """An argv element naming the command, a command line (`ssh -p ...`), or our options."""
    words = text.split()
    if text.strip() in COMMANDS or text.startswith(OPTIONS):
        return True
    return len(words) > 1 and words[0] in COMMANDS and words[1].startswith("-")


def violations(source: str) -> list[str]:
    """What in `source` builds an rsync/ssh command or opens SSH (`line: text`)."""
    tree = ast.parse(source)
    docs = _docstrings(tree) | _compared(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        text: str | None = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            text = node.value
        elif isinstance(node, ast.JoinedStr) and node.values:
            head = node.values[0]
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                text = head.value
        if text is not None and _command_text(text):
            found.append(f"{getattr(node, 'lineno', '?')}: {text[:60]!r}")
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            if any(n.split(".")[0] in SSH_LIBRARIES for n in names):
                found.append(f"{node.lineno}: imports {', '.join(names)}")
    return found


def product_modules() -> list[Path]:
    files = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    return [p for p in files if TRANSPORT not in p.parents]


@pytest.mark.parametrize(
    "source",
    [
        'argv = ["rsync", "--perms", src, dst]',
        'subprocess.run(["ssh", "-p", "22", host, "true"])',
        'cmd = "rsync -a --delete src/ dst/"',
        'rsh = f"ssh -p {port} --"',
        'argv += ["--files-from=-", "--from0"]',
        'argv.append(f"--backup-dir={root}.syncplanet/trash")',
        "from fabric import Connection",
        "import paramiko.client",
    ],
)
def test_the_check_sees_a_command_line(source: str) -> None:
    assert violations(source)


@pytest.mark.parametrize(
    "source",
    [
        '"""Moves files with rsync over ssh."""',
        'url = "ssh://sync@nas/prod/"',
        'log.info("rsync exit %d", code)',
        'help_text = "the rsync options of this volume"',
        'if parts.scheme == "ssh": pass',
    ],
)
def test_the_check_lets_prose_and_urls_be(source: str) -> None:
    assert violations(source) == []


def test_no_module_outside_the_transport_package_builds_a_command() -> None:
    modules = product_modules()
    assert len(modules) > 50 and ROOT / "reconciler" / "jobs" / "reconcile.py" in modules
    found = {
        str(p.relative_to(ROOT)): hits
        for p in modules
        if (hits := violations(p.read_text(encoding="utf-8")))
    }
    assert found == {}, "build commands in reconciler/transport/ instead"


def test_the_transport_package_is_where_the_commands_are() -> None:
    inside = [violations(p.read_text(encoding="utf-8")) for p in TRANSPORT.rglob("*.py")]
    assert sum(map(len, inside)) >= 5  # the check would see them: it is not vacuous
