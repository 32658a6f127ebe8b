"""`spctl serve --workers 2`, run for real: two uvicorn processes on one port and one store.

Every request goes on a new connection, so the kernel hands them to both processes (the
test checks from the processes' own metric files that both answered). A token signed in
on one is accepted by the other on every request (the JWT secret is drawn once, by the
parent, in the data directory); the sign-in limit counts failures across both; `/metrics`
sums the request counter of both processes and shows each store gauge once; the private
metrics directory is 0700 and gone once `serve` exits. SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import re
import stat
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.mmap_dict import MmapedDict

from reconciler.store import Store
from tests.observability.seed import seed
from tests.support.servers import free_port, server_process, url_of
from tests.support.spctl import SPCTL

PASSWORD = "workers-admin-pw"
REQUESTS = 300
STORE_GAUGES = ("syncplanet_files", "syncplanet_volume_up", "syncplanet_store_up")


class Server:
    """A running `spctl serve --workers 2`; `get`/`post` count the replies by status."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url, self.tmp = url, tmp
        self.codes: Counter[int] = Counter()

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        # A new client per request: a new connection, accepted by either process.
        with httpx.Client(base_url=self.url, timeout=10) as client:
            reply = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        self.codes[reply.status_code] += 1
        return reply

    def metrics_dir(self) -> Path:
        (state,) = self.tmp.glob("spctl-serve-*")
        return state / "metrics"


@contextmanager
def serve_workers(tmp_path: Path, db_url: str) -> Iterator[Server]:
    port = free_port()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {
        **os.environ,
        "SPCTL_HOME": str(tmp_path / "home"),
        "SPCTL_ADMIN_PASSWORD": PASSWORD,
        "SPCTL_WORKERS": "2",
        "TMPDIR": str(tmp),
    }
    env.pop("SPCTL_SECRET", None)  # the kept secret, drawn by the parent, must be shared
    env.pop(MULTIPROC := "PROMETHEUS_MULTIPROC_DIR", None)
    assert MULTIPROC not in env
    command = [*SPCTL, "serve", "--port", str(port), "--db", db_url, "--log-level", "warning"]
    server = Server(url_of(port), tmp)

    def healthy() -> bool:  # counted with the test's own requests
        return server.request("GET", "/healthz").status_code == 200

    with server_process(command, port=port, logs=tmp_path, env=env, probe=healthy) as process:
        yield server
    assert not list(tmp.glob("spctl-serve-*")), "the private metrics directory was left"
    assert "Traceback" not in process.output(), process.output()


def answered_per_process(metrics_dir: Path) -> dict[int, float]:
    """`syncplanet_http_requests_total{code="200"}` as each process's own file holds it."""
    out: dict[int, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        values = MmapedDict(str(path), read_mode=True)  # type: ignore[no-untyped-call]
        try:
            for key, value, _ in values.read_all_values():  # type: ignore[no-untyped-call]
                if '"syncplanet_http_requests_total"' in key and '"200"' in key:
                    out[pid] = out.get(pid, 0.0) + value
        finally:
            values.close()  # type: ignore[no-untyped-call]
    return out


def sample(text: str, series: str) -> float:
    match = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    assert match, f"{series} missing from /metrics"
    return float(match.group(1))


def test_two_api_processes_share_tokens_limits_and_metrics(store_url: str, tmp_path: Path) -> None:
    db_url = store_url
    store = Store.open(db_url)
    seed(store)  # a hub and three volumes: the store gauges have series
    store.close()
    with serve_workers(tmp_path, db_url) as server:
        metrics_dir = server.metrics_dir()
        assert stat.S_IMODE(metrics_dir.parent.stat().st_mode) == 0o700
        signed = server.request(
            "POST", "/api/signIn", json={"username": "admin", "password": PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        auth = {"Authorization": f"Bearer {signed.json()['token']}"}
        refused = [
            r.status_code
            for r in (server.request("GET", "/api/verify", headers=auth) for _ in range(REQUESTS))
            if r.status_code != 200
        ]
        assert refused == [], f"{len(refused)} of {REQUESTS} verifications refused"
        per_process = answered_per_process(metrics_dir)
        assert len([pid for pid, n in per_process.items() if n > 0]) == 2, per_process

        # Five failures of one account, spread over both processes, reach the limit.
        wrong = {"username": "admin", "password": "not-it"}
        codes = [server.request("POST", "/api/signIn", json=wrong).status_code for _ in range(5)]
        assert codes == [401] * 5
        assert server.request("POST", "/api/signIn", json=wrong).status_code == 429

        answered = dict(server.codes)
        text = server.request("GET", "/metrics").text
    for code, count in answered.items():
        assert sample(text, f'syncplanet_http_requests_total{{code="{code}"}}') == count
    assert "process_cpu_seconds_total" not in text  # one process's figure, left out
    assert 'pid="' not in text
    samples = [line.split(" ")[0] for line in text.splitlines() if not line.startswith("#")]
    duplicated = [name for name, n in Counter(samples).items() if n > 1]
    assert duplicated == [], duplicated
    for gauge in STORE_GAUGES:
        assert any(s.split("{")[0] == gauge for s in samples), f"{gauge} missing"
    assert sample(text, "syncplanet_store_up") == 1
    assert sample(text, 'syncplanet_build_info{version="0.1.0"}') == 1
