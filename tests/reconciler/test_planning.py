"""Planning as data: batches, rsync options by scope, the argv, keys written, trash names.

Every case is (input values -> expected plan); one parametrized test per function.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.domain import Direction
from reconciler.core.planning import (
    FileFacts,
    QueueItem,
    file_changes,
    select_batch,
    volume_status,
    volume_waiting,
)
from reconciler.transport.commands import Endpoints, files_from, package_excludes, rsync_argv
from reconciler.transport.options import MergedOptions, merge_options
from reconciler.transport.trash import trash_stamp, trash_to_purge

GiB = 1024**3


def q(file_id: str, size: int = 10, priority: int = 0) -> QueueItem:
    return QueueItem(file_id, "s", priority, False, 1, size)


# ---- batches ---------------------------------------------------------------------------

BATCH_CASES: list[tuple[str, list[QueueItem], int, int, list[str]]] = [
    ("empty queue", [], 10, GiB, []),
    ("count limit", [q("/a"), q("/b"), q("/c")], 2, GiB, ["/a", "/b"]),
    ("bytes limit keeps work order", [q("/a", 6), q("/b", 6), q("/c", 1)], 10, 10, ["/a"]),
    ("a file bigger than the limit still goes alone", [q("/big", 50), q("/b")], 10, 10, ["/big"]),
    ("exact fit", [q("/a", 5), q("/b", 5), q("/c", 1)], 10, 10, ["/a", "/b"]),
    ("zero amount still moves one", [q("/a"), q("/b")], 0, GiB, ["/a"]),
    ("entry below a package waits", [q("/p/"), q("/p/x"), q("/q")], 10, GiB, ["/p/", "/q"]),
    (
        "package above a chosen entry waits",
        [q("/p/sub/x"), q("/p/"), q("/p/sub/")],
        10,
        GiB,
        ["/p/sub/x"],
    ),
    (
        "sibling packages together",
        [q("/p/"), q("/p2/"), q("/p2x")],
        10,
        GiB,
        ["/p/", "/p2/", "/p2x"],
    ),
    (
        "skipped entries do not count",
        [q("/p/"), q("/p/a"), q("/p/b"), q("/c")],
        2,
        GiB,
        ["/p/", "/c"],
    ),
]


@pytest.mark.parametrize(
    ("name", "items", "amount", "max_bytes", "expected"),
    BATCH_CASES,
    ids=[c[0] for c in BATCH_CASES],
)
def test_select_batch(
    name: str, items: list[QueueItem], amount: int, max_bytes: int, expected: list[str]
) -> None:
    assert [i.file_id for i in select_batch(items, amount, max_bytes)] == expected


def test_files_from_is_nul_separated_and_relative() -> None:
    assert files_from(["/a b/c\nd", "/-x", "/p/"]) == b"a b/c\nd\0-x\0p/\0"


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        (["/a", "/b"], []),
        (["/p/"], ["--exclude=/p/*/"]),
        (["/we[i]rd*?\\ x/"], ["--exclude=/we\\[i\\]rd\\*\\?\\\\ x/*/"]),
    ],
)
def test_package_excludes(ids: list[str], expected: list[str]) -> None:
    assert package_excludes(ids) == expected


# ---- options by scope -------------------------------------------------------------------

OPTION_CASES: list[tuple[str, list[tuple[str, str, str]], list[str], dict[str, str], int]] = [
    ("nothing", [("global", "", ""), ("hub", "", ""), ("volume", "", "")], [], {}, 0),
    (
        "scopes in order",
        [("global", "--bwlimit=100", ""), ("hub", "-z", ""), ("volume", "--bwlimit=50", "")],
        ["--bwlimit=100", "-z", "--bwlimit=50"],
        {},
        0,
    ),
    (
        "value in the next token kept",
        [("global", "--timeout 30 --bwlimit 8192", "")],
        ["--timeout", "30", "--bwlimit", "8192"],
        {},
        0,
    ),
    (
        "correctness options refused",
        [("volume", "--delete --inplace --files-from=x --partial-dir /p --backup-dir=b -n", "")],
        [],
        {},
        6,
    ),
    ("refused rsh and its value", [("hub", "-e 'ssh -p 2' -z", "")], ["-z"], {}, 1),
    # only the allow-list passes: options stored through the API are screened again here
    (
        "commands, files outside, links out",
        [
            (
                "volume",
                "--rsync-path 'sh -c id' --log-file=/etc/x -M-x -L -K --copy-unsafe-links",
                "",
            )
        ],
        [],
        {},
        6,
    ),
    ("archive implies devices", [("global", "-a -z", "")], ["-z"], {}, 1),
    ("end of options refused with what follows", [("global", "-- /etc/ -c", "")], ["-c"], {}, 2),
    ("a flag given a value", [("global", "--compress=yes -W", "")], ["-W"], {}, 1),
    ("a value option without its value", [("global", "-z --bwlimit", "")], ["-z"], {}, 1),
    ("refused letter in a cluster", [("global", "-avn -z", "")], ["-z"], {}, 1),
    ("bare words refused", [("global", "/etc/passwd -z", "")], ["-z"], {}, 1),
    ("unparseable string", [("global", "--chmod='x", "")], [], {}, 1),
    (
        "env later scope wins",
        [("global", "", "A=1 B=2"), ("volume", "", "B='x y'")],
        [],
        {"A": "1", "B": "x y"},
        0,
    ),
    ("env entries must be KEY=VALUE", [("hub", "", "NOEQ 1X=2 OK=3")], [], {"OK": "3"}, 2),
]


@pytest.mark.parametrize(
    ("name", "scopes", "args", "env", "dropped"), OPTION_CASES, ids=[c[0] for c in OPTION_CASES]
)
def test_merge_options(
    name: str,
    scopes: list[tuple[str, str, str]],
    args: list[str],
    env: dict[str, str],
    dropped: int,
) -> None:
    merged = merge_options(scopes)
    assert list(merged.args) == args
    assert dict(merged.env) == env
    assert len(merged.dropped) == dropped


PULL = Endpoints("u@h:/vol/", "/hub/", "/hub/", "ssh -p 22")
PUSH = Endpoints("/hub/", "u@h:/vol/", "/vol/", "ssh -p 22")
LOCAL = Endpoints("/hub/", "/mnt/vol/", "/mnt/vol/", None)


@pytest.mark.parametrize(
    ("ends", "args", "dry_run", "must", "order"),
    [
        (
            PULL,
            (),
            False,
            [
                "-e",
                "ssh -p 22",
                "--partial-dir=/hub/.syncplanet/partial",
                "--backup-dir=/hub/.syncplanet/trash/T",
            ],
            [],
        ),
        (PUSH, (), False, ["--partial-dir=/vol/.syncplanet/partial"], []),
        (LOCAL, (), True, ["--dry-run"], []),
        # a user's --no-perms wins over our default
        (LOCAL, ("-z", "--no-perms"), False, [], ["--perms", "--no-perms", "--no-recursive"]),
    ],
)
def test_rsync_argv(
    ends: Endpoints, args: tuple[str, ...], dry_run: bool, must: list[str], order: list[str]
) -> None:
    argv = rsync_argv(
        file_ids=["/a", "/p/"],
        ends=ends,
        options=MergedOptions(args, {}, ()),
        stamp="T",
        dry_run=dry_run,
    )
    assert argv[0] == "rsync"
    assert argv[-3:] == ["--", ends.source, ends.dest]  # no location can be read as an option
    for needed in [
        "--from0",
        "--files-from=-",
        "--protect-args",
        "--times",
        "--backup",
        "--info=name2",
        "--exclude=/p/*/",
        *must,
    ]:
        assert needed in argv
    assert ("-e" in argv) == (ends.rsh is not None)
    positions = [argv.index(o) for o in order]
    assert positions == sorted(positions)


# ---- keys after a batch -------------------------------------------------------------------

FACTS = FileFacts(size=7, mtime_ms=5000, sent_bytes=7)
DOC = {"_id": "/f", "origin": "paris", "time": 100, "syncing_hub": 90}


def _changes(
    doc: dict[str, Any], direction: Direction, site: str, facts: FileFacts | None, code: int
) -> dict[str, Any]:
    return file_changes(
        doc, site=site, direction=direction, planned_time=100, facts=facts, exit_code=code, now=200
    )


KEY_CASES: list[
    tuple[str, dict[str, Any], Direction, str, FileFacts | None, int, dict[str, Any]]
] = [
    (
        "emission verified records origin size and mtime",
        DOC,
        Direction.EMISSION,
        "hub",
        FACTS,
        0,
        {
            "syncing_hub": None,
            "synced_hub": 200,
            "syncError_hub": None,
            "syncLastAttempt_hub": None,
            "syncAttempts_hub": None,
            "file_size": 7,
            "file_mtime": 5000,
        },
    ),
    (
        "reception verified: no file_size from a copy",
        DOC,
        Direction.RECEPTION,
        "london",
        FACTS,
        0,
        {
            "syncing_london": None,
            "synced_london": 200,
            "syncError_london": None,
            "syncLastAttempt_london": None,
            "syncAttempts_london": None,
        },
    ),
    (
        "verified but republished meanwhile: not synced",
        {**DOC, "time": 150},
        Direction.RECEPTION,
        "london",
        FACTS,
        0,
        {"syncing_london": None},
    ),
    (
        "failed file counts an attempt",
        {**DOC, "syncAttempts_london": 2},
        Direction.RECEPTION,
        "london",
        None,
        23,
        {
            "syncing_london": None,
            "syncError_london": 23,
            "syncLastAttempt_london": 200,
            "syncAttempts_london": 3,
        },
    ),
    (
        "unreachable: no per-file attempt",
        DOC,
        Direction.RECEPTION,
        "london",
        None,
        255,
        {"syncing_london": None, "syncError_london": 255, "syncLastAttempt_london": 200},
    ),
    (
        "exit 0 but not reported: recorded as 23",
        DOC,
        Direction.EMISSION,
        "hub",
        None,
        0,
        {
            "syncing_hub": None,
            "syncError_hub": 23,
            "syncLastAttempt_hub": 200,
            "syncAttempts_hub": 1,
        },
    ),
]


@pytest.mark.parametrize(
    ("name", "doc", "direction", "site", "facts", "code", "expected"),
    KEY_CASES,
    ids=[c[0] for c in KEY_CASES],
)
def test_file_changes(
    name: str,
    doc: dict[str, Any],
    direction: Direction,
    site: str,
    facts: FileFacts | None,
    code: int,
    expected: dict[str, Any],
) -> None:
    assert _changes(doc, direction, site, facts, code) == expected


def test_synced_is_never_below_time_when_the_clock_is_behind() -> None:
    got = file_changes(
        DOC,
        site="x",
        direction=Direction.RECEPTION,
        planned_time=100,
        facts=FACTS,
        exit_code=0,
        now=50,
    )
    assert got["synced_x"] == 100


STATUS_CASES: list[tuple[str, dict[str, Any], int, int, dict[str, Any]]] = [
    (
        "first success",
        {},
        0,
        3,
        {
            "agentStatus": "on",
            "lastConnectionAttempt": 1000,
            "lastConnectionSuccess": 1000,
            "lastConnectionStatusChange": 1000,
            "exit_reception": 0,
            "stderr_reception": "",
            "last_reception": 1000,
            "connectionFailures": None,
            "nextConnectionAttempt": None,
            "downSince": None,
        },
    ),
    (
        "success with nothing delivered keeps last_reception",
        {"agentStatus": "on"},
        23,
        0,
        {
            "agentStatus": "on",
            "lastConnectionAttempt": 1000,
            "lastConnectionSuccess": 1000,
            "exit_reception": 23,
            "stderr_reception": "boom",
            "connectionFailures": None,
            "nextConnectionAttempt": None,
            "downSince": None,
        },
    ),
    (
        "goes down",
        {"agentStatus": "on"},
        255,
        0,
        {
            "agentStatus": "off",
            "lastConnectionAttempt": 1000,
            "connectionFailures": 1,
            "nextConnectionAttempt": 1000 + 30_000,
            "lastConnectionStatusChange": 1000,
            "downSince": 1000,
            "exit_reception": 255,
            "stderr_reception": "boom",
        },
    ),
    (
        "stays down, backoff doubles up to the cap",
        {"agentStatus": "off", "connectionFailures": 7, "downSince": 5},
        12,
        0,
        {
            "agentStatus": "off",
            "lastConnectionAttempt": 1000,
            "connectionFailures": 8,
            "nextConnectionAttempt": 1000 + 3_600_000,
            "exit_reception": 12,
            "stderr_reception": "boom",
        },
    ),
    (
        "comes back",
        {"agentStatus": "off", "connectionFailures": 3, "downSince": 5},
        0,
        1,
        {
            "agentStatus": "on",
            "lastConnectionAttempt": 1000,
            "lastConnectionSuccess": 1000,
            "lastConnectionStatusChange": 1000,
            "connectionFailures": None,
            "nextConnectionAttempt": None,
            "downSince": None,
            "exit_reception": 0,
            "stderr_reception": "",
            "last_reception": 1000,
        },
    ),
]


@pytest.mark.parametrize(
    ("name", "doc", "code", "delivered", "expected"), STATUS_CASES, ids=[c[0] for c in STATUS_CASES]
)
def test_volume_status(
    name: str, doc: dict[str, Any], code: int, delivered: int, expected: dict[str, Any]
) -> None:
    got = volume_status(
        doc,
        direction=Direction.RECEPTION,
        exit_code=code,
        stderr="boom",
        delivered=delivered,
        now=1000,
        backoff_base=30,
        backoff_max=3600,
    )
    assert got == expected


@pytest.mark.parametrize(
    ("doc", "now", "waiting"),
    [
        (None, 10, False),
        ({"agentStatus": "on", "nextConnectionAttempt": 50}, 10, False),
        ({"agentStatus": "off", "nextConnectionAttempt": 50}, 10, True),
        ({"agentStatus": "off", "nextConnectionAttempt": 50}, 50, False),
        ({"agentStatus": "off"}, 10, False),
    ],
)
def test_volume_waiting(doc: dict[str, Any] | None, now: int, waiting: bool) -> None:
    assert volume_waiting(doc, now) is waiting


# ---- trash ---------------------------------------------------------------------------------

DAY = 86_400_000
NOW = 1_709_288_430_123  # 2024-03-01T10:20:30.123Z


def test_trash_stamp_is_sortable_utc_with_ms() -> None:
    assert trash_stamp(NOW) == "20240301T102030.123Z"
    assert trash_stamp(NOW + 1) > trash_stamp(NOW)


@pytest.mark.parametrize(
    ("names", "max_age", "expected"),
    [
        ([], 30, []),
        (
            [trash_stamp(NOW - 31 * DAY), trash_stamp(NOW - 29 * DAY)],
            30,
            [trash_stamp(NOW - 31 * DAY)],
        ),
        ([trash_stamp(NOW - 2 * DAY)], 1, [trash_stamp(NOW - 2 * DAY)]),
        (["not-ours", "20240301T102030Z", "20200101T000000.000Zx", "lost+found"], 0, []),
        ([trash_stamp(NOW)], 0, []),
    ],
)
def test_trash_to_purge(names: list[str], max_age: float, expected: list[str]) -> None:
    assert trash_to_purge(names, now=NOW, max_age_days=max_age) == expected


def test_safe_ids_refuse_what_breaks_the_path_rules_before_any_command() -> None:
    from reconciler.transport.rsync import safe_ids

    ids = ["/ok.exr", "/a/../../etc/passwd", "/seq/", "relative", "/x/./y", "/n\x00ul", "/-dash"]
    assert safe_ids(ids) == (
        ["/ok.exr", "/seq/", "/-dash"],
        ["/a/../../etc/passwd", "relative", "/x/./y", "/n\x00ul"],
    )
