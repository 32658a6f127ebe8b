"""The loop sends e-mail digests: a real site down, a real SMTP sink, one message per change."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reconciler.conftest import WorldFactory
from tests.support.smtp import Sink, smtp_sink

pytestmark = pytest.mark.ssh


@pytest.fixture
def smtp() -> Iterator[tuple[Sink, int]]:
    with smtp_sink() as sink_and_port:
        yield sink_and_port


def test_a_pass_with_a_site_down_sends_one_digest_to_its_recipients(
    world: WorldFactory, smtp: tuple[Sink, int]
) -> None:
    sink, port = smtp
    w = world("paris", "tokyo", smtpHost="127.0.0.1", smtpPort=port,
              smtpFrom="sync@example.com", notifyMinIntervalSeconds=600)  # fmt: skip
    w.volume("tokyo", notifiedEmails="ops@example.com")
    for i in range(3):
        w.publish("paris", f"/plates/p{i}.exr", b"plate")
    w.sites["tokyo"].stop()
    assert w.reconcile() is True  # tokyo's copies are in error
    assert len(sink.messages) == 1
    rcpt, msg = sink.messages[0]
    assert rcpt == ["ops@example.com"]
    assert "tokyo" in str(msg["Subject"]) and "unreachable" in str(msg["Subject"]).lower()
    assert w.reconcile() is True  # still down: no second mail within the interval
    assert len(sink.messages) == 1
