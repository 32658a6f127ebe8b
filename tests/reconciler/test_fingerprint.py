"""The reconciler's own status writes never change the configuration fingerprint.

Transfers (exit codes, connection state, reception totals), volume markers (`volumeId`),
scans (`last_scan`, ...), a site going down and the e-mail digest all write status keys on
the configuration objects; none of them may re-derive every file's rows. The fingerprint
covers only the keys the models flag `desired` (`reconciler.core.kinds`).
"""

from __future__ import annotations

from reconciler.jobs.scan.volume import scan_volume
from tests.reconciler.conftest import World, WorldFactory
from tests.support.smtp import smtp_sink


def _fingerprints(w: World) -> tuple[str, str | None]:
    with w.store.read() as tx:
        return tx.config().fingerprint, tx.meta_get("config_fingerprint")


def test_status_writers_leave_the_fingerprint_as_it_was(world: WorldFactory) -> None:
    with smtp_sink() as (sink, port):
        w = world("paris", "london", enableScans=True, smtpHost="127.0.0.1", smtpPort=port)
        w.volume("paris", enableDiscovery=True)
        w.volume("london", notifiedEmails="ops@example.com")
        before = _fingerprints(w)
        assert before[0] == before[1]

        w.publish("paris", "/shots/a.exr", b"frame" * 100)
        assert w.reconcile() is False  # emission and reception
        session = w.session()
        assert scan_volume(session.rt, "paris").exit_code == 0
        w.sites["london"].stop()
        w.publish("paris", "/shots/b.exr", b"frame" * 200)
        assert w.reconcile() is True  # london is down; the pass also sends the digest
        assert sink.messages

    paris, london = w.doc("volume/paris"), w.doc("volume/london")
    assert {"volumeId", "exit_emission", "last_scan", "scannedOnce"} <= paris.keys()
    assert {"volumeId", "bytes_reception", "downSince"} <= london.keys()
    assert london["agentStatus"] == "off" and london["notifiedState"] == "down"
    assert _fingerprints(w) == before
