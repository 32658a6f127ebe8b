"""The README stays short and every link from it into the docs leads to a page."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_readme_is_under_200_lines() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines: move details into docs/"


def test_readme_keeps_the_two_commands() -> None:
    text = README.read_text()
    assert "make run" in text and "make test" in text


def test_every_readme_link_into_docs_exists() -> None:
    targets = [t for t in LINK.findall(README.read_text()) if t.startswith("docs/")]
    assert len(targets) >= 10, targets
    missing = [t for t in targets if not (ROOT / t.split("#")[0]).exists()]
    assert not missing, f"README.md links to missing files: {missing}"


def test_every_docs_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = [p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")]
    assert pages and not [p for p in pages if f": {p}" not in nav]
