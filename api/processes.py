"""API processes: `spctl serve --workers N` runs N uvicorn processes on one listening socket.

The processes share everything that must agree between them:
- the store (each opens its own connections; sign-in limits live in it, `api.signin_limits`);
- the settings, JWT secret included: the parent resolves them once (environment, flags,
  `--secret-file`, else the secret kept in the data directory) and writes them to a 0600 file
  in a private 0700 directory, which each process reads back (`worker_app`); a secret drawn
  per process would make every token valid on one process only;
- the metrics: `PROMETHEUS_MULTIPROC_DIR` points at that private directory (new, so empty:
  no counts of an earlier run are summed), each process counts in its own files there and
  `/metrics`, whichever process answers, sums them and adds the store gauges once
  (`reconciler.services.metrics`).
The parent migrates the store and creates `admin` before the processes start, so the
generated password is announced once. The directory is removed when `serve` exits.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi import FastAPI

from api.settings import Settings
from reconciler.store.private_files import create_private

STATE_ENV = "SPCTL_SERVE_STATE"  # the private directory, for the processes
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"  # read by prometheus_client when it is imported
SETTINGS_FILE = "settings.json"
METRICS_DIR = "metrics"


@contextmanager
def shared_state(settings: Settings) -> Iterator[Path]:
    """A private directory holding `settings` and the metrics files, named in the environment
    the processes inherit; removed (and the environment restored) on exit."""
    state = Path(tempfile.mkdtemp(prefix="spctl-serve-"))  # mode 0700, fresh
    metrics_dir = state / METRICS_DIR
    metrics_dir.mkdir(mode=0o700)
    create_private(state / SETTINGS_FILE, json.dumps(dataclasses.asdict(settings)))
    saved = {name: os.environ.get(name) for name in (STATE_ENV, MULTIPROC_ENV)}
    os.environ[STATE_ENV] = str(state)
    os.environ[MULTIPROC_ENV] = str(metrics_dir)
    try:
        yield state
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(state, ignore_errors=True)


def worker_app() -> FastAPI:
    """The app of one API process (uvicorn's factory): the parent's settings, shared metrics."""
    from api.app import create_app
    from reconciler.services.metrics import Metrics

    state = Path(os.environ[STATE_ENV])
    settings = Settings(**json.loads((state / SETTINGS_FILE).read_text(encoding="utf-8")))
    return create_app(settings, metrics=Metrics(multiprocess_dir=state / METRICS_DIR))
