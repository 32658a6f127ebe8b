"""The hub shell over real SSH (Fabric) and locally, and URL parsing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from reconciler.remote import (
    CommandFailed,
    FabricShell,
    HubShell,
    InvalidUrl,
    LocalShell,
    SshSettings,
    parse_url,
)
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
    "url", ["relative/path", "http://x/y/", "ssh://host", "ssh://host:notaport/x/", "file://h/x"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(InvalidUrl):
        parse_url(url)


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
