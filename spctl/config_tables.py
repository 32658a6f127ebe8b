"""The `spctl get` tables: which columns each kind shows, plain or `-o wide`.

Pure rendering of manifest-shaped objects (what `applier.get` and the declarative routes
return) into spctl's one table (`spctl.table`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reconciler.core.humanize import iso_time  # spctl's one time format
from reconciler.core.manifest_schema import Kind, KindInfo
from spctl.table import cell, render

Column = tuple[str, Callable[[Mapping[str, Any]], Any]]


def _spec(key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda obj: obj["spec"].get(key)


def _status(key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda obj: (obj.get("status") or {}).get(key)


def _when(key: str) -> Callable[[Mapping[str, Any]], Any]:
    def cell(obj: Mapping[str, Any]) -> Any:
        value = (obj.get("status") or {}).get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return iso_time(int(value))
        return value

    return cell


_COLUMNS: dict[Kind, tuple[list[Column], list[Column]]] = {
    Kind.GLOBAL: (
        [("SCANS", _spec("enableScans")), ("SLEEP", _spec("sleepBetweenScans")),
         ("SYNC-EVERYWHERE", _spec("syncEverywhere"))],
        [("BACKOFF-BASE", _spec("retryBackoffBase")), ("BACKOFF-MAX", _spec("retryBackoffMax")),
         ("TRASH-DAYS", _spec("trashMaxAgeDays")), ("SMTP", _spec("smtpHost"))],
    ),
    Kind.HUB: (
        [("URL", _spec("url"))],
        [("IDENTITY", _spec("identityFile")), ("KNOWN-HOSTS", _spec("knownHosts"))],
    ),
    Kind.VOLUME: (
        [("URL", _spec("url")), ("ENABLED", _spec("enabled")),
         ("EMISSION", _spec("enableEmission")), ("RECEPTION", _spec("enableReception")),
         ("DISCOVERY", _spec("enableDiscovery"))],
        [("STATUS", _status("agentStatus")), ("LAST-SCAN", _when("last_scan")),
         ("LAST-EMISSION", _when("last_emission")), ("LAST-RECEPTION", _when("last_reception"))],
    ),
    Kind.USER: (
        [("CLASS", _spec("class")), ("EMAIL", _spec("email"))],
        [("FULLNAME", _spec("fullname")), ("LAST-LOGIN", _when("lastlogin"))],
    ),
    Kind.SYNCTARGET: (
        [("PATHS", lambda o: ",".join(o["spec"]["paths"] or [])),
         ("SITES", lambda o: "*" if o["spec"]["everywhere"] else ",".join(o["spec"]["sites"])),
         ("PRIORITY", _spec("priority"))],
        [("EXCLUDE", lambda o: ",".join(o["spec"]["exclude"])),
         ("EXCLUDE-SITES", lambda o: ",".join(o["spec"]["excludeSites"]))],
    ),
}  # fmt: skip


def table(info: KindInfo, items: Sequence[Mapping[str, Any]], *, wide: bool = False) -> str:
    """Aligned columns, NAME first; `wide` adds the second group of columns."""
    plain, extra = _COLUMNS[info.kind]
    columns: list[Column] = [("NAME", lambda o: o["metadata"]["name"]), *plain]
    if wide:
        columns += extra
    rows = [[cell(value(obj)) for _, value in columns] for obj in items]
    return render([h for h, _ in columns], rows)
