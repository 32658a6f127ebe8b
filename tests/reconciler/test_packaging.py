"""SyncPlanet as an installed package: the built wheel carries what the commands read at run time.

The demo manifests are package data (`reconciler/services/demo_manifests/`, the source);
`manifests/demo/` is the same files kept as the example tree. The wheel is built from a copy
of the source tree (the shared working tree stays untouched), installed without its
dependencies into a fresh venv that sees the development venv's packages through a `.pth`
file (but not the project's sources), and `spctl run --demo` runs from an empty directory
until a published file reaches another demo site.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from tests.support.servers import answers, free_port, server_process

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_DATA = ROOT / "reconciler" / "services" / "demo_manifests"
EXAMPLE_TREE = ROOT / "manifests" / "demo"


def test_the_example_tree_is_the_packaged_demo_manifests() -> None:
    packaged = {p.name: p.read_bytes() for p in PACKAGE_DATA.iterdir() if p.is_file()}
    example = {p.name: p.read_bytes() for p in EXAMPLE_TREE.iterdir() if p.is_file()}
    assert packaged, "no packaged demo manifests"
    assert example == packaged, "copy reconciler/services/demo_manifests/ to manifests/demo/"


def build_wheel(tmp: Path) -> Path:
    source = tmp / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    for package in ("reconciler", "api", "spctl"):
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(ROOT / package, source / package, ignore=ignore)
    dist = tmp / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(source)],
        check=True,
        timeout=600,
    )
    (wheel,) = dist.glob("syncplanet-*.whl")
    return wheel


def fresh_venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         str(wheel)],
        check=True,
        timeout=300,
    )  # fmt: skip
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies, from the development venv: a plain path (its own .pth files, among
    # them the editable install of this project, are not processed from there).
    Path(site, "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def wait_for(check: object, deadline: float) -> bool:
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        time.sleep(0.2)
    return False


def _tracked(published: subprocess.CompletedProcess[str]) -> bool:
    """The publish worked, or the demo's own scan of paris published the file first (the
    scan runs at start-up and every 10 s: either way the installed package tracks it)."""
    return published.returncode == 0 or "already tracked" in published.stderr


def test_installed_wheel_runs_the_demo_from_an_empty_directory(tmp_path: Path) -> None:
    venv = fresh_venv(tmp_path, build_wheel(tmp_path))
    spctl = str(venv / "bin" / "spctl")
    empty = tmp_path / "empty"
    empty.mkdir()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPCTL_", "PYTHON"))}
    env["SPCTL_HOME"] = str(home)
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import reconciler; print(reconciler.__file__)"],
        cwd=empty, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(venv)), f"the project was imported from {where}"
    port = free_port()
    command = [spctl, "run", "--demo", "--port", str(port), "--log-level", "warning"]
    target = home / "demo" / "volumes" / "montreal" / "assets" / "lamp.obj"
    with server_process(
        command, port=port, logs=tmp_path, name="spctl-run", cwd=empty, env=env,
        merge_output=False, timeout=120,
    ) as server:  # fmt: skip
        # the web page's template and static files come from the installed package too
        page = answers(f"{server.url}/", timeout=2)
        style = answers(f"{server.url}/web/static/style.css", timeout=2)
        paris = home / "demo" / "volumes" / "paris"
        (paris / "assets").mkdir(parents=True, exist_ok=True)
        (paris / "assets" / "lamp.obj").write_bytes(b"lamp")
        published = subprocess.run(
            [spctl, "publish", "/assets/lamp.obj", "--origin", "paris"],
            cwd=empty, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        delivered = _tracked(published) and wait_for(target.exists, time.monotonic() + 120)
    err = server.stderr()
    assert page and style, "the web page or its stylesheet is missing from the wheel"
    assert _tracked(published), published.stderr
    assert delivered, f"the published file was not delivered: {err}"
    assert target.read_bytes() == b"lamp"
    assert server.returncode == 0, err
