"""`spctl diff` output: unified diffs, the impact table (`--impact`) or JSON, and exit codes.

`--db` and `--server` produce the same `DiffResult` (the server sends it as JSON), so both
modes print the same thing. Exit codes: 0 no differences, 1 differences, 3 a site would
receive more than `--max-bytes` (errors, 2, are raised before this module is reached).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import typer

from reconciler.core.humanize import eta_text, human_bytes
from reconciler.services import applier
from reconciler.services.impact import Amount, Impact, SiteImpact, impact_from_json, parse_size
from reconciler.services.manifests import Manifest
from reconciler.store import Store
from spctl.common import check_output, fail, print_json
from spctl.table import render

EXIT_OVER_MAX_BYTES = 3


@dataclass(frozen=True)
class Request:
    impact: bool
    max_bytes: int | None
    json: bool

    @classmethod
    def parse(cls, *, impact: bool, max_bytes: str | None, output: str) -> Request:
        check_output(output, ("text", "json"))
        try:
            limit = parse_size(max_bytes) if max_bytes is not None else None
        except ValueError as exc:
            fail(f"--max-bytes: {exc}")
        return cls(impact=impact or limit is not None, max_bytes=limit, json=output == "json")


@dataclass(frozen=True)
class DiffResult:
    objects: Sequence[dict[str, str]]  # {object, action, diff}
    impact: Impact | None


def compute(
    store: Store, manifests: Sequence[Manifest], request: Request, *, prune: bool, now: int
) -> DiffResult:
    if request.impact:
        outcomes, impact = applier.diff_impact(store, manifests, prune=prune, now=now)
    else:
        outcomes, impact = applier.diff(store, manifests, prune=prune, now=now), None
    objects = [{"object": o.ref, "action": o.action.value, "diff": o.diff} for o in outcomes]
    return DiffResult(objects, impact)


def from_reply(reply: Any) -> DiffResult:
    found = reply.get("impact")
    objects = [{k: str(r[k]) for k in ("object", "action", "diff")} for r in reply["results"]]
    return DiffResult(objects, impact_from_json(found) if found is not None else None)


def show(result: DiffResult, request: Request) -> int:
    """Print the result; the exit code."""
    impact = result.impact
    over = impact.over(request.max_bytes) if impact is not None else []
    if request.json:
        print_json(
            {
                "objects": list(result.objects),
                "impact": impact.json(request.max_bytes) if impact is not None else None,
            }
        )
    else:
        for item in result.objects:
            typer.echo(item["diff"], nl=False)
        if impact is not None:
            typer.echo(("\n" if result.objects else "") + impact_table(impact), nl=False)
    for site in (s for s in impact.sites if s.site in over) if impact else ():
        size = site.newly_wanted.bytes
        typer.echo(
            f"error: {site.site} would receive {human_bytes(size)} ({size:,} bytes), more than "
            f"--max-bytes {request.max_bytes:,} bytes: this change needs an approval",
            err=True,
        )
    if over:
        return EXIT_OVER_MAX_BYTES
    return 1 if result.objects else 0


def _amount(amount: Amount) -> str:
    if not amount.files:
        return "0"
    return f"{amount.files:,} ({human_bytes(amount.bytes)})"


def _priority(s: SiteImpact) -> str:
    if not s.priority_changes.files:
        return "0"
    return f"{s.priority_up.files:,} up, {s.priority_down.files:,} down"


def impact_table(impact: Impact) -> str:
    """One line per affected site, and the footnote on files no longer wanted."""
    if not impact.sites:
        return "No change to what any site receives.\n"
    rows = [
        [s.site, _amount(s.newly_wanted), _amount(s.no_longer_wanted), _priority(s),
         eta_text(s.eta_seconds) if s.newly_wanted.files else "-"]
        for s in impact.sites
    ]  # fmt: skip
    head = ["SITE", "NEWLY WANTED", "NO LONGER WANTED", "PRIORITY CHANGES", "ETA"]
    notes = ["Newly wanted: to be sent (missing or outdated there); ETA at the site's measured "
             "throughput."]  # fmt: skip
    if any(s.no_longer_wanted.files for s in impact.sites):
        notes.append("No longer wanted: not delivered any more; copies already there are kept, "
                     "never deleted.")  # fmt: skip
    return render(head, rows) + "\n\n" + "\n".join(notes) + "\n"
