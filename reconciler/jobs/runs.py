"""Reconciler job kinds, and one job run counted by its outcome (issue 12: no silent failure).

`job_run(metrics, kind)` wraps one run: its duration goes to
`syncplanet_job_duration_seconds{job}` and its outcome to `syncplanet_job_runs_total{job,
outcome}`: `ok`, `failed` (the job ran and reported a failure: a scan that could not list
its volume, a batch that delivered nothing), or `error` (it raised: logged, not re-raised,
so one job's crash never stops the others).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

from reconciler.services.metrics import Metrics

log = logging.getLogger(__name__)


class JobKind(StrEnum):
    SCAN = "scan"
    EMISSION = "emission"
    RECEPTION = "reception"
    DELETIONS = "deletions"
    PURGE = "purge"
    NOTIFY = "notify"
    CONFIG = "config"


class Outcome(StrEnum):
    OK = "ok"
    FAILED = "failed"
    ERROR = "error"


@dataclass
class Run:
    kind: JobKind
    outcome: Outcome = Outcome.OK

    def fail(self) -> None:
        if self.outcome is Outcome.OK:
            self.outcome = Outcome.FAILED


def declare(metrics: Metrics) -> None:
    """Every (job, outcome) series at zero, so a rate over failures has data from the start."""
    for kind in JobKind:
        metrics.job_duration.labels(kind.value)
        for outcome in Outcome:
            metrics.job_runs.labels(kind.value, outcome.value)


@contextmanager
def job_run(metrics: Metrics, kind: JobKind, what: str = "") -> Iterator[Run]:
    """Count one run of `kind`; an exception inside is logged and recorded as `error`."""
    run = Run(kind)
    started = time.monotonic()
    try:
        yield run
    except Exception:
        log.exception("%s job%s failed", kind.value, f" for {what}" if what else "")
        run.outcome = Outcome.ERROR
    finally:
        metrics.job_duration.labels(kind.value).observe(time.monotonic() - started)
        metrics.job_runs.labels(kind.value, run.outcome.value).inc()
