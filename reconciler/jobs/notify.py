"""E-mail digests to a volume's `notifiedEmails` (architecture.md#observability): down, recovered,
files failed.

The reconciler loop calls `notify_pass(rt) -> int` (the number of mails sent) after its
passes. For every enabled volume with `notifiedEmails` it compares what the volume looks like
now (reachable or not, per-file transfer failures since the last mail) with what was last
notified, which is kept on the volume object (`notifiedState`: up | down,
`lastNotification`: ms) so a restart never sends the same news twice. At most one digest per
volume per `notifyMinIntervalSeconds`, never one mail per file; a volume that goes down and
comes back within the interval sends nothing. `plan_digest` decides, purely; SMTP settings
are the global parameters `smtpHost`, `smtpPort`, `smtpFrom`, `smtpUser`,
`smtpPasswordFromEnv` (the name of the environment variable holding the password) and
`smtpAllowPlaintext`. Credentials never travel in clear text: with a login configured, the
connection must be SMTPS (port 465) or upgraded by STARTTLS, else nothing is sent unless
`smtpAllowPlaintext: true` (a server on a trusted local link). A pass that could not send
records why on the volumes left waiting (`notifyError`, cleared by the next mail sent).

Several workers may run a pass at once: a digest is sent once. Its intent is recorded first
(`notifyIntent` on the volume: the state, when, which worker), then the mail is sent, then
it is marked sent (`notifiedState`, `lastNotification`) and the intent removed. A worker
that finds an intent of a live worker leaves that digest alone; an intent left by a worker
that died (no live row in `workers`) is taken as sent, since the mail may have left: a
crash costs at worst that one mail, never a duplicate. A mail refused by the server
removes its intent (it had not left) and is planned again.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import smtplib
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from reconciler.core.clock import now_ms
from reconciler.core.config import SyncConfig
from reconciler.core.domain import Direction, error_key, last_attempt_key
from reconciler.core.humanize import iso_time
from reconciler.core.kinds import GlobalParameters
from reconciler.jobs.runtime import Runtime
from reconciler.services.status import exit_code_text, ms_value, reachable
from reconciler.store import Tx
from reconciler.store.queue import failed_since

log = logging.getLogger(__name__)
LISTED = 50  # files named in one digest; the rest are counted
SCANNED = 1000  # failed rows read per volume and pass (a digest, not a report)


@dataclass(frozen=True)
class Failure:
    file_id: str
    site: str  # where the copy failed: the volume (reception) or the hub (emission)
    direction: str
    exit_code: int
    at: int  # ms


@dataclass(frozen=True)
class Digest:
    volume: str
    to: tuple[str, ...]
    subject: str
    body: str
    state: str  # the notifiedState to record once sent
    last: int | None = None  # the volume's lastNotification when planned


def plan_digest(
    *,
    volume: str,
    url: str,
    emails: Sequence[str],
    volume_doc: Mapping[str, Any],
    failures: Sequence[Failure],
    now: int,
    min_interval_s: float,
) -> Digest | None:
    """Whether a digest is due for this volume, and its text. Purely computational."""
    notified = "down" if volume_doc.get("notifiedState") == "down" else "up"
    up = reachable(volume_doc)
    state = notified if up is None else ("up" if up else "down")
    if not emails or (state == notified and not failures):
        return None
    last = ms_value(volume_doc, "lastNotification")
    if last is not None and now - last < min_interval_s * 1000:
        return None
    headline: list[str] = []
    lines = [f"Volume {volume} ({url})"]
    mount_error = volume_doc.get("mountError")
    if state != notified and state == "down" and isinstance(mount_error, str) and mount_error:
        # reconciler.jobs.markers: the root answers but is not the volume (an unmounted share)
        headline.append(f"{volume} is not mounted")
        since = ms_value(volume_doc, "downSince") or ms_value(volume_doc, "lastConnectionAttempt")
        lines.append(f"Not mounted since {iso_time(since)}: {mount_error}")
    elif state != notified and state == "down":
        headline.append(f"{volume} is unreachable")
        since = ms_value(volume_doc, "downSince") or ms_value(volume_doc, "lastConnectionAttempt")
        lines.append(
            f"Unreachable since {iso_time(since)}; last successful connection: "
            f"{iso_time(ms_value(volume_doc, 'lastConnectionSuccess'))}. Transfers to and from "
            "it wait; the other volumes carry on."
        )
    elif state != notified:
        headline.append(f"{volume} is reachable again")
        lines.append(
            f"Reachable again at {iso_time(ms_value(volume_doc, 'lastConnectionSuccess'))}; "
            "its pending files are being retried."
        )
    if failures:
        headline.append(f"{len(failures)} file{'s' if len(failures) != 1 else ''} failed to sync")
        lines.append(
            f"\nFiles whose transfer failed since the last notification ({len(failures)}):"
        )
        for f in failures[:LISTED]:
            lines.append(
                f"  {f.direction:<9} {f.file_id}  exit {f.exit_code} "
                f"({exit_code_text(f.exit_code)}) at {iso_time(f.at)}"
            )
        if len(failures) > LISTED:
            lines.append(f"  ... and {len(failures) - LISTED} more")
        lines.append(f"\nDetails: spctl explain PATH --site {volume}")
    return Digest(
        volume=volume,
        to=tuple(emails),
        subject="[SyncPlanet] " + "; ".join(headline),
        body="\n".join(lines) + "\n",
        state=state,
    )


def recent_failures(tx: Tx, cfg: SyncConfig, volume: str, since: int | None) -> list[Failure]:
    """Per-file failures (not unreachability) of `volume`'s lanes attempted after `since`.

    Unreachable-volume errors have no per-file retry time, so `next_retry IS NOT NULL` keeps
    only the errors worth a line each; the down/recovered news covers the others.
    """
    lanes: list[tuple[str, Direction, str | None]] = [(volume, Direction.RECEPTION, None)]
    if cfg.hub_name:
        lanes.append((cfg.hub_name, Direction.EMISSION, volume))
    out: list[Failure] = []
    for site, direction, origin in lanes:
        ids = failed_since(tx, site, origin=origin, since=since, limit=SCANNED)
        for doc in tx.get_many(ids):
            code = ms_value(doc or {}, error_key(site))
            at = ms_value(doc or {}, last_attempt_key(site))
            if doc and code is not None and at is not None and (since is None or at > since):
                out.append(Failure(str(doc["_id"]), site, direction.value, code, at))
    return sorted(out, key=lambda f: (f.direction, f.at, f.file_id))


def plan_pass(tx: Tx, now: int) -> list[Digest]:
    """The digests due now, for every enabled volume that names recipients."""
    cfg = tx.config()
    interval = float(cfg.globals.notify_min_interval_seconds)
    digests = []
    for name, volume in cfg.volumes.items():
        emails = [e.strip() for e in volume.notified_emails.split(",") if e.strip()]
        if not emails or not volume.enabled:
            continue
        doc = tx.get(f"volume/{name}") or {}
        since = ms_value(doc, "lastNotification")
        digest = plan_digest(
            volume=name,
            url=volume.url,
            emails=emails,
            volume_doc=doc,
            failures=recent_failures(tx, cfg, name, since),
            now=now,
            min_interval_s=interval,
        )
        if digest is not None:
            digests.append(dataclasses.replace(digest, last=since))
    return digests


class PlaintextLogin(smtplib.SMTPException):
    """A login would send the SMTP credentials in clear text; refused (not retried faster)."""


def plaintext_refusal(host: str, port: int) -> str:
    return (
        f"SMTP {host}:{port} offers no STARTTLS: the login and password are not sent in clear "
        "text. Use a server with STARTTLS, or SMTPS on port 465, or set smtpAllowPlaintext: "
        "true in the global parameters (only for a server on a trusted link)"
    )


@contextmanager
def smtp_session(params: GlobalParameters, env: Mapping[str, str]) -> Iterator[smtplib.SMTP]:
    """One SMTP connection for the whole pass (STARTTLS when offered, login when configured;
    a login needs TLS unless `smtpAllowPlaintext`)."""
    host, port = params.smtp_host, params.smtp_port
    smtp: smtplib.SMTP
    if port == 465:
        smtp = smtplib.SMTP_SSL(host, port, timeout=30, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=30)
    try:
        smtp.ehlo()
        encrypted = port == 465
        if not encrypted and smtp.has_extn("starttls"):
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
            encrypted = True
        user = params.smtp_user
        if user:
            if not encrypted and not params.smtp_allow_plaintext:
                raise PlaintextLogin(plaintext_refusal(host, port))
            smtp.login(user, env.get(params.smtp_password_from_env, ""))
        yield smtp
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def message(digest: Digest, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(digest.to)
    msg["Subject"] = digest.subject
    msg.set_content(digest.body)
    return msg


def notify_pass(rt: Runtime, env: Mapping[str, str] | None = None) -> int:
    """Send the digests due now; return how many were sent. SMTP trouble is logged and
    recorded as `notifyError` on the volumes whose digest was not sent; their news is
    planned again at the next pass (notifiedState and lastNotification stay as they were)."""
    now = rt.clock()
    with rt.store.read() as tx:
        params = tx.config().globals
        if not params.smtp_host:
            return 0
    _settle_orphans(rt)
    with rt.store.read() as tx:
        digests = plan_pass(tx, now)
    if not digests:
        return 0
    done: list[str] = []  # sent here, or being sent by another worker
    sent = 0
    try:
        with smtp_session(params, os.environ if env is None else env) as smtp:
            for digest in digests:
                if not _intend(rt, digest, now):
                    done.append(digest.volume)  # another worker is sending it
                    continue
                try:
                    smtp.send_message(message(digest, params.smtp_from))
                except (OSError, smtplib.SMTPException):
                    _patch(rt, digest.volume, {"notifyIntent": None})  # it had not left
                    raise
                _patch(rt, digest.volume, {"notifiedState": digest.state,
                                           "lastNotification": now, "notifyError": None,
                                           "notifyIntent": None})  # fmt: skip
                done.append(digest.volume)
                sent += 1
    except (OSError, smtplib.SMTPException) as exc:
        error = str(exc) if isinstance(exc, PlaintextLogin) else f"SMTP failed: {exc}"
        log.warning("notifications: %s:%s: %s", params.smtp_host, params.smtp_port, error)
        _record_error(rt, [d.volume for d in digests if d.volume not in done], error)
    return sent


def _patch(rt: Runtime, volume: str, keys: dict[str, Any]) -> None:
    with rt.store.write() as tx:
        tx.patch(f"volume/{volume}", keys)


def _intend(rt: Runtime, digest: Digest, now: int) -> bool:
    """Record the intent to send `digest`, unless another worker did or it went meanwhile."""
    with rt.store.write() as tx:
        (doc,) = tx.get_many([f"volume/{digest.volume}"], for_update=True)
        if doc is None or doc.get("notifyIntent") or doc.get("lastNotification") != digest.last:
            return False
        intent = {"state": digest.state, "at": now, "by": rt.worker_id}
        tx.patch(f"volume/{digest.volume}", {"notifyIntent": intent})
    return True


def _settle_orphans(rt: Runtime) -> None:
    """Intents whose worker is gone count as sent: the mail may have left before it died."""
    from reconciler.store import workers

    now = rt.clock()
    with rt.store.write() as tx:
        cfg = tx.config()
        lease_ms = cfg.globals.lease_seconds * 1000
        beat_after = now_ms() - lease_ms  # heartbeats are wall-clock times
        live = {w.id for w in workers.list_workers(tx) if w.heartbeat >= beat_after}
        live.discard(rt.worker_id)  # ours, at the start of a pass: an earlier process's
        for name in cfg.volumes:
            doc = tx.get(f"volume/{name}") or {}
            intent = doc.get("notifyIntent")
            if not isinstance(intent, dict) or intent.get("by") in live:
                continue
            log.warning("digest for %s: its sender %s died; taken as sent", name, intent.get("by"))
            tx.patch(f"volume/{name}", {"notifiedState": intent.get("state"),
                                        "lastNotification": intent.get("at", now),
                                        "notifyIntent": None})  # fmt: skip


def _record_error(rt: Runtime, volumes: Sequence[str], error: str) -> None:
    """`notifyError` on the volumes left waiting (written only when it changes)."""
    with rt.store.write() as tx:
        for volume in volumes:
            doc = tx.get(f"volume/{volume}")
            if doc is not None and doc.get("notifyError") != error:
                tx.patch(f"volume/{volume}", {"notifyError": error})
