"""The hub shell over real SSH (Fabric) and locally, and URL parsing."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.core.domain import Direction
from reconciler.core.urls import InvalidUrl, SiteUrl, UnsafeUrl, parse_url
from reconciler.transport.commands import listing_argv
from reconciler.transport.options import MergedOptions
from reconciler.transport.shells import CommandFailed, FabricShell, HubShell, LocalShell
from reconciler.transport.sites import run_batch
from reconciler.transport.ssh import SshSettings
from tests.support.sshd import SshSite


@pytest.mark.parametrize(
    ("url", "path", "host", "user", "port"),
    [
        ("/srv/prod", "/srv/prod/", None, None, None),
        ("file:///srv/prod/", "/srv/prod/", None, None, None),
        ("ssh://sync@paris.example.com:2222/prod/", "/prod/", "paris.example.com", "sync", 2222),
        ("ssh://host/a%20b/", "/a b/", "host", None, None),
    ],
)
def test_parse_url(
    url: str, path: str, host: str | None, user: str | None, port: int | None
) -> None:
    parsed = parse_url(url)
    assert (parsed.path, parsed.host, parsed.user, parsed.port) == (path, host, user, port)


@pytest.mark.parametrize(
    "url",
    [
        "relative/path",
        "http://x/y/",
        "ssh://host",
        "ssh://host:notaport/x/",
        "file://h/x",
        "ssh://[::1/x/",  # urlsplit's own ValueError comes back as InvalidUrl
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(InvalidUrl):
        parse_url(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ssh://-oProxyCommand=touch%20x@nas/prod/", 'user must not start with "-"'),
        ("ssh://-oProxyCommand=x/prod/", 'host must not start with "-"'),
        ("ssh://sync@nas -p1/prod/", "host must not be empty or contain whitespace"),
        ("ssh://a b@nas/prod/", "user must not be empty or contain whitespace"),
        ("ssh://@nas/prod/", "user must not be empty"),
        ("ssh://sync\t@nas/prod/", "control characters"),  # urlsplit would drop the tab
        ("ssh://sync@na\rs/prod/", "control characters"),
        ("/srv/a\x1bb/", "control characters"),
        ("ssh://sync@nas;id/prod/", "not a host name or an IP address"),
    ],
)
def test_urls_that_a_command_line_could_misread_are_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl, match=re.escape(reason)):
        parse_url(url.encode().decode("unicode_escape"))


def test_ssh_commands_end_options_before_the_host() -> None:
    url = SiteUrl(path="/prod/", host="nas", user="sync", port=2222)
    argv = SshSettings().ssh_argv(url, "-O", "exit")
    assert argv[-4:] == ["-O", "exit", "--", "nas"]
    assert argv[argv.index("-l") + 1] == "sync" and argv[argv.index("-p") + 1] == "2222"
    # rsync appends the host (and never a `-l`: locations carry no user) after this `--`
    assert SshSettings().rsync_rsh(url).endswith(" -l sync --")
    assert url.rsync_location() == "nas:/prod/"


def test_an_option_in_the_user_or_host_never_reaches_ssh_as_one(
    ssh_site: Callable[[str], SshSite], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth behind `parse_url`: a SiteUrl with `-oProxyCommand=...` as user or host
    (a value stored by other means) runs nothing, through ssh nor through rsync's `-e`."""
    site = ssh_site("paris")
    (site.root / "f").write_bytes(b"data")
    ssh = SshSettings(identity_file=str(site.keys.identity), known_hosts=str(site.keys.known_hosts))
    shell = LocalShell()
    good = parse_url(site.url)
    listed = b"".join(shell.stream(listing_argv(good, ssh)))
    assert listed.endswith(b"/f\0")  # the user goes to ssh as `-l`: the listing works
    hub = tmp_path / "hub"
    hub.mkdir()

    def batch(direction: Direction, volume: SiteUrl) -> int:
        options = MergedOptions((), {}, ())
        hub_url = SiteUrl(path=f"{hub}/")
        return run_batch(
            shell, ssh, direction=direction, hub=hub_url, volume=volume, file_ids=["/f"],
            options=options, now=0,
        ).exit_code  # fmt: skip

    assert batch(Direction.EMISSION, good) == 0  # rsync works with the user as `-l`
    assert (hub / "f").read_bytes() == b"data"
    # no `/` in the value: rsync would take `user@-o...:/path` for a local path otherwise
    monkeypatch.setenv("SPCTL_TEST_MARKER", str(tmp_path / "pwned"))
    evil = "-oProxyCommand=touch $SPCTL_TEST_MARKER"
    for bad in (
        SiteUrl(path=good.path, host="127.0.0.1", user=evil, port=site.port),
        SiteUrl(path=good.path, host=evil, user=good.user, port=site.port),
    ):
        with pytest.raises(CommandFailed):
            list(shell.stream(listing_argv(bad, ssh)))
        assert batch(Direction.EMISSION, bad) != 0  # rsync's -e
        assert batch(Direction.RECEPTION, bad) != 0  # ssh to prepare the root, then rsync
    assert not list(tmp_path.glob("pwned*")), "ssh ran a ProxyCommand taken from a URL"


def test_fabric_shell_moves_big_stdin_and_stdout_without_deadlock(
    ssh_site: Callable[[str], SshSite],
) -> None:
    hub = ssh_site("hubhost")
    shell = FabricShell(
        parse_url(hub.url),
        SshSettings(identity_file=str(hub.keys.identity), known_hosts=str(hub.keys.known_hosts)),
    )
    try:
        payload = bytes(range(256)) * 40_000  # 10 MB: far beyond the SSH channel windows
        done = shell.run(["sh", "-c", "cat; echo done >&2"], stdin=payload)
        assert done.exit_code == 0
        assert done.stdout == payload
        assert done.stderr == b"done\n"
        name = "it's a $HOME; `x`"
        assert shell.run(["printf", "%s", name]).stdout == name.encode()  # no shell expansion
        with pytest.raises(CommandFailed):
            list(shell.stream(["sh", "-c", "echo partial; exit 3"]))
        line = "fabric stream never ends"
        assert_stops_early(shell, line)
        # the command is gone with its channel; the kept-open connection still works
        for _ in range(100):
            if shell.run(["pgrep", "-f", line]).exit_code == 1:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the remote command outlived the closed stream")
    finally:
        shell.close()


def test_fabric_shell_refuses_an_unknown_host_key(
    ssh_site: Callable[[str], SshSite], tmp_path: object
) -> None:
    hub = ssh_site("hubhost")
    empty = hub.dir / "empty_known_hosts"
    empty.write_text("")
    shell = FabricShell(
        parse_url(hub.url),
        SshSettings(identity_file=str(hub.keys.identity), known_hosts=str(empty)),
    )
    with pytest.raises(Exception, match=r"(?i)not found in known_hosts|host key"):
        shell.run(["true"])


def assert_stops_early(shell: HubShell, line: str, first: str = "") -> None:
    """A consumer that stops reading an endless stream does not hang on the command, nor on
    its children (`cat` would block on the full pipe; `first` starts before the output)."""
    stream = shell.stream(["sh", "-c", f"{first} yes '{line}' | cat"])
    assert next(stream).startswith(line.encode())
    closer = threading.Thread(target=stream.close, daemon=True)
    closer.start()
    closer.join(timeout=20)
    assert not closer.is_alive(), "closing the stream waited on a command that never ends"


def test_local_shell_stream_and_failure() -> None:
    shell = LocalShell()
    assert b"".join(shell.stream(["printf", "a\\0b"])) == b"a\0b"
    with pytest.raises(CommandFailed) as info:
        list(shell.stream(["sh", "-c", "echo oops >&2; exit 4"]))
    assert info.value.exit_code == 4 and "oops" in info.value.stderr
    # a child that writes nothing but keeps stderr open: only stopping the group ends it
    assert_stops_early(shell, "local stream never ends", first="sleep 60 &")
