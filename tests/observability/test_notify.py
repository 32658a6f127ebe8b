"""E-mail digests through a real SMTP sink (aiosmtpd on 127.0.0.1), on both stores."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest

from reconciler.core.clock import now_ms
from reconciler.jobs.notify import Failure, notify_pass, plaintext_refusal, plan_digest
from reconciler.jobs.runtime import Runtime
from reconciler.jobs.workers import identity
from reconciler.store import Store, workers
from reconciler.transport.shells import LocalShell
from reconciler.transport.ssh import SshSettings
from tests.observability.seed import CONFIG, MIN, NOW, seed
from tests.support.servers import free_port
from tests.support.smtp import Sink, smtp_sink


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    with smtp_sink() as sink_and_port:
        yield sink_and_port


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> int:
        return self.now


def config(port: int) -> list[dict[str, Any]]:
    docs = [dict(c) for c in CONFIG]
    docs[0].update(smtpHost="127.0.0.1", smtpPort=port, smtpFrom="sync@example.com",
                   notifyMinIntervalSeconds=600)  # fmt: skip
    docs[3]["notifiedEmails"] = "ops@example.com, td@example.com"
    return docs


def set_tokyo(store: Store, **keys: Any) -> None:
    with store.write() as tx:
        tx.patch("volume/tokyo", keys)


def body(msg: Message) -> str:
    payload = msg.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def test_down_recovered_and_failures_one_digest_each(store: Store, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    seed(store, config=config(port))
    clock = Clock()
    rt = Runtime(store=store, shell=LocalShell(), ssh=SshSettings(), clock=clock)
    assert notify_pass(rt) == 0  # reachable, never notified: nothing to say

    clock.now += MIN
    set_tokyo(store, lastConnectionAttempt=clock.now, downSince=clock.now)
    assert notify_pass(rt) == 1
    assert notify_pass(rt) == 0  # same news: never twice
    rcpt, msg = sink.messages[-1]
    assert rcpt == ["ops@example.com", "td@example.com"]
    assert msg["Subject"] == "[SyncPlanet] tokyo is unreachable"
    assert msg["From"] == "sync@example.com"
    assert "Unreachable since 2027-01-15 08:01:00Z" in body(msg)

    # Files stuck while it is down (exit 255) are covered by the down news, not listed.
    with store.write() as tx:
        tx.insert({"_id": "/a", "origin": "paris", "time": NOW, "synced_hub": NOW,
                   "syncError_tokyo": 255, "syncLastAttempt_tokyo": clock.now})  # fmt: skip

    clock.now += 2 * MIN  # back within the interval: held back (a flap sends nothing)
    set_tokyo(store, lastConnectionAttempt=clock.now, lastConnectionSuccess=clock.now)
    assert notify_pass(rt) == 0
    clock.now += 10 * MIN
    # A restart: a new runtime on the same store knows what was notified.
    rt = Runtime(store=store, shell=LocalShell(), ssh=SshSettings(), clock=clock)
    assert notify_pass(rt) == 1
    assert sink.messages[-1][1]["Subject"] == "[SyncPlanet] tokyo is reachable again"
    assert len(sink.messages) == 2

    # 60 files fail on tokyo (and one of tokyo's emissions): one digest, not 61 mails.
    clock.now += MIN
    with store.write() as tx:
        tx.insert_many(
            [{"_id": f"/shots/f{i:02}.exr", "origin": "paris", "time": NOW, "synced_hub": NOW,
              "syncError_tokyo": 23, "syncLastAttempt_tokyo": clock.now} for i in range(60)]
            + [{"_id": "/up.ma", "origin": "tokyo", "time": NOW, "syncError_hub": 11,
                "syncLastAttempt_hub": clock.now}]
        )  # fmt: skip
    assert notify_pass(rt) == 0  # the last mail was 1 minute ago
    clock.now += 10 * MIN
    assert notify_pass(rt) == 1
    msg = sink.messages[-1][1]
    assert msg["Subject"] == "[SyncPlanet] 61 files failed to sync"
    text = body(msg)
    assert "reception /shots/f00.exr  exit 23 (partial transfer due to error)" in text
    assert "emission  /up.ma  exit 11 (error in file I/O)" in text
    assert "... and 11 more" in text
    assert "/a " not in text
    clock.now += 60 * MIN
    assert notify_pass(rt) == 0  # the same failures are not re-sent
    assert len(sink.messages) == 3
    with store.read() as tx:
        tokyo = tx.get("volume/tokyo")
    assert tokyo is not None and tokyo["notifiedState"] == "up"
    assert tokyo["lastNotification"] == NOW + 24 * MIN


def test_smtp_down_records_nothing_and_retries(store: Store, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    closed = free_port()
    seed(store, config=config(closed))
    set_tokyo(store, lastConnectionAttempt=NOW)
    rt = Runtime(store=store, shell=LocalShell(), ssh=SshSettings(), clock=Clock())
    assert notify_pass(rt) == 0
    with store.write() as tx:
        tx.patch("rsyncGlobalParameters", {"smtpPort": port})
    assert notify_pass(rt) == 1
    assert sink.messages[-1][1]["Subject"] == "[SyncPlanet] tokyo is unreachable"


def test_no_login_in_clear_text_unless_allowed(store: Store) -> None:
    """The sink offers AUTH on a plain connection (no STARTTLS): with a login configured the
    reconciler refuses to send the password, records why on the volume and sends nothing;
    `smtpAllowPlaintext: true` lets it through; the next mail clears the error."""
    env = {"SPCTL_TEST_SMTP_PW": "s3cret"}
    login = {"smtpUser": "mailer", "smtpPasswordFromEnv": "SPCTL_TEST_SMTP_PW"}
    with smtp_sink(login=("mailer", "s3cret")) as (sink, port):
        docs = config(port)
        docs[0].update(login)
        seed(store, config=docs)
        set_tokyo(store, lastConnectionAttempt=NOW)
        rt = Runtime(store=store, shell=LocalShell(), ssh=SshSettings(), clock=Clock())
        assert notify_pass(rt, env) == 0
        assert sink.logins == [] and sink.messages == []
        with store.read() as tx:
            tokyo = tx.get("volume/tokyo")
        assert tokyo is not None and "notifiedState" not in tokyo
        assert tokyo["notifyError"] == plaintext_refusal("127.0.0.1", port)
        assert "offers no STARTTLS" in tokyo["notifyError"]
        assert "smtpAllowPlaintext" in tokyo["notifyError"]

        with store.write() as tx:
            tx.patch("rsyncGlobalParameters", {"smtpAllowPlaintext": True})
        assert notify_pass(rt, env) == 1
        assert sink.logins == ["mailer"]
        assert sink.messages[-1][1]["Subject"] == "[SyncPlanet] tokyo is unreachable"
        with store.read() as tx:
            tokyo = tx.get("volume/tokyo")
        assert tokyo is not None and "notifyError" not in tokyo


def test_no_smtp_host_or_no_recipients_sends_nothing(store: Store, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    docs = config(port)
    docs[3]["notifiedEmails"] = " , "
    seed(store, config=docs)
    set_tokyo(store, lastConnectionAttempt=NOW)
    rt = Runtime(store=store, shell=LocalShell(), ssh=SshSettings(), clock=Clock())
    assert notify_pass(rt) == 0
    with store.write() as tx:
        tx.patch("volume/tokyo", {"notifiedEmails": "ops@example.com"})
        tx.patch("rsyncGlobalParameters", {"smtpHost": ""})
    assert notify_pass(rt) == 0
    assert sink.messages == []


def digest_for(doc: dict[str, Any], failures: list[Failure], now: int = NOW) -> Any:
    return plan_digest(volume="tokyo", url="/srv/tokyo/", emails=["a@b"], volume_doc=doc,
                       failures=failures, now=now, min_interval_s=600)  # fmt: skip


def test_plan_digest_decisions() -> None:
    up = {"lastConnectionAttempt": NOW, "lastConnectionSuccess": NOW}
    down = {"lastConnectionAttempt": NOW, "lastConnectionSuccess": NOW - MIN}
    fail = Failure("/a", "tokyo", "reception", 23, NOW)
    assert digest_for(up, []) is None
    assert digest_for({}, []) is None  # never tried: nothing known, nothing sent
    assert digest_for(down, []).state == "down"
    assert digest_for({**down, "notifiedState": "down"}, []) is None
    assert digest_for({**up, "notifiedState": "down"}, []).subject == (
        "[SyncPlanet] tokyo is reachable again"
    )
    both = digest_for({**up, "notifiedState": "down"}, [fail])
    assert both.subject == "[SyncPlanet] tokyo is reachable again; 1 file failed to sync"
    recent = {**down, "lastNotification": NOW - 599_000}
    assert digest_for(recent, [fail]) is None
    assert digest_for({**down, "lastNotification": NOW - 600_000}, [fail]) is not None


# ---- one digest whatever the number of workers (issue 12) ------------------------------


def _runtime(store: Store, worker_id: str) -> Runtime:
    return Runtime(store=store, shell=LocalShell(), ssh=SshSettings(), clock=Clock(),
                   worker_id=worker_id)  # fmt: skip


def _tokyo(store: Store) -> dict[str, Any]:
    with store.read() as tx:
        doc = tx.get("volume/tokyo")
    assert doc is not None
    return doc


def test_two_workers_at_once_send_one_digest(store: Store, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    seed(store, config=config(port))
    set_tokyo(store, lastConnectionAttempt=NOW)
    sent: list[int] = []
    threads = [
        threading.Thread(target=lambda i=i: sent.append(notify_pass(_runtime(store, f"w{i}"))))
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(sent) == [0, 0, 0, 1]
    assert [m["Subject"] for _, m in sink.messages] == ["[SyncPlanet] tokyo is unreachable"]
    tokyo = _tokyo(store)
    assert tokyo["notifiedState"] == "down" and "notifyIntent" not in tokyo


def test_an_intent_left_by_a_dead_sender_counts_as_sent(
    store: Store, smtp: tuple[Sink, int]
) -> None:
    """The worker died between recording its intent and marking the mail sent: the mail may
    have left, so it is not sent again; the news is recorded as notified."""
    sink, port = smtp
    seed(store, config=config(port))
    intent = {"state": "down", "at": NOW - MIN, "by": "render7:4242"}  # no such worker
    set_tokyo(store, lastConnectionAttempt=NOW, notifyIntent=intent)
    assert notify_pass(_runtime(store, "w1")) == 0
    assert sink.messages == []
    tokyo = _tokyo(store)
    assert (tokyo["notifiedState"], tokyo["lastNotification"]) == ("down", NOW - MIN)
    assert "notifyIntent" not in tokyo


def test_an_intent_of_a_live_worker_is_left_to_it(store: Store, smtp: tuple[Sink, int]) -> None:
    sink, port = smtp
    seed(store, config=config(port))
    with store.write() as tx:
        workers.register(tx, identity("render7:4242", now_ms()))  # alive: it beat now
    intent = {"state": "down", "at": NOW, "by": "render7:4242"}
    set_tokyo(store, lastConnectionAttempt=NOW, notifyIntent=intent)
    assert notify_pass(_runtime(store, "w1")) == 0
    assert sink.messages == []
    assert _tokyo(store)["notifyIntent"] == intent


def test_smtp_away_leaves_no_intent_behind(store: Store) -> None:
    closed = free_port()
    docs = config(closed)
    seed(store, config=docs)
    set_tokyo(store, lastConnectionAttempt=NOW)
    rt = _runtime(store, "w1")
    assert notify_pass(rt) == 0  # the SMTP server is away: nothing left, nothing recorded
    tokyo = _tokyo(store)
    assert "notifyIntent" not in tokyo and "notifiedState" not in tokyo
