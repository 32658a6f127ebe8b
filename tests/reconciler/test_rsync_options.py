"""The rsync option allow-list: every admitted option really runs with the reconciler's own
options (a batch arrives and is reported), and the refused ones are named with a reason."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from reconciler.core.domain import Direction
from reconciler.core.rsync_options import ALLOWED_LONG, ALLOWED_SHORT, screen
from reconciler.core.urls import SiteUrl
from reconciler.transport.options import merge_options
from reconciler.transport.shells import LocalShell
from reconciler.transport.sites import run_batch
from reconciler.transport.ssh import SshSettings

SAMPLE_VALUES = {
    "bwlimit": "10m",
    "compress-level": "1",
    "zl": "1",
    "compress-choice": "zlib",
    "zc": "zlib",
    "skip-compress": "gz/zip",
    "checksum-choice": "md5",
    "cc": "md5",
    "chmod": "Fu+rw",
    "timeout": "30",
}
ALLOWED = [
    *(f"--{n}={SAMPLE_VALUES[n]}" if takes else f"--{n}" for n, takes in ALLOWED_LONG.items()),
    *(f"-{letter}" for letter in ALLOWED_SHORT),
]


def test_every_option_taking_a_value_has_a_sample() -> None:
    assert {n for n, takes in ALLOWED_LONG.items() if takes} == set(SAMPLE_VALUES)


@pytest.mark.parametrize("option", ALLOWED)
def test_an_allowed_option_runs_with_the_reconcilers_options(option: str, tmp_path: Path) -> None:
    hub, volume = tmp_path / "hub", tmp_path / "vol"
    (volume / "a").mkdir(parents=True)
    hub.mkdir()
    (volume / "a" / "f.txt").write_bytes(b"content")
    options = merge_options([("volume/v", option, "")])
    assert options.args and not options.dropped
    done = run_batch(
        LocalShell(),
        SshSettings(),
        direction=Direction.EMISSION,
        hub=SiteUrl(path=f"{hub}/"),
        volume=SiteUrl(path=f"{volume}/"),
        file_ids=["/a/f.txt"],
        options=options,
        now=1_700_000_000_000,
    )
    assert done.exit_code == 0, done.stderr
    assert set(done.arrived) == {"/a/f.txt"}  # our itemized report still reads back
    assert (hub / "a" / "f.txt").read_bytes() == b"content"


@pytest.mark.parametrize(
    ("args", "named", "reason"),
    [
        ("--rsync-path=/tmp/x", "--rsync-path", "can run a command"),
        ("--rsh 'sh -c id'", "--rsh", "can run a command"),
        ("-M--log-file=/x", "-M", "can run a command"),
        ("-zL", "-L", "follows links out of the volume"),
        ("--copy-unsafe-links", "--copy-unsafe-links", "follows links out of the volume"),
        ("-K", "-K", "follows links out of the volume"),
        ("--log-file=/etc/x", "--log-file", "outside the volume"),
        ("--files-from /etc/passwd", "--files-from", "outside the volume"),
        ("--temp-dir=/tmp", "--temp-dir", "outside the volume"),
        ("-T /tmp", "-T", "outside the volume"),
        ("--write-batch=/tmp/b", "--write-batch", "outside the volume"),
        ("--link-dest=/", "--link-dest", "outside the volume"),
        ("--delete", "--delete", "changes what arrives"),
        ("--inplace", "--inplace", "changes what arrives"),
        ("--info=progress2", "--info", "changes what arrives"),
        ("--ipv4", "--ipv4", "set by the reconciler"),
        ("-a", "-a", "device files"),
        ("--super", "--super", "not in the allow-list"),
        ("--bwlim=1", "--bwlim", "not in the allow-list"),  # no prefixes of allowed names
        ("/etc/passwd", "/etc/passwd", "bare word"),
        ("--", "--", "end of options"),
    ],
)
def test_refused_options_are_named_with_a_reason(args: str, named: str, reason: str) -> None:
    screened = screen(shlex.split(args))
    assert screened.kept == ()
    assert [r.option for r in screened.refused] == [named]
    assert reason in screened.refused[0].describe()
