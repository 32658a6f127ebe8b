"""The WAN simulator (tests/support/wan.py) does what it claims, on loopback.

Delay and rate are checked within 10% of the configured values over enough time that a
millisecond of scheduling noise does not matter; a measurement taken while the 2-core
machine is busy with other tests is retried once. Back-pressure, resets and blackholes are
checked on plain TCP echo and sink servers on 127.0.0.1 (bounded in bytes and time).
"""

from __future__ import annotations

import contextlib
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.wan import WanProxy

MiB = 1024**2


class Server:
    """A TCP server on 127.0.0.1 running `handle(conn)` per connection in a thread."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.handle = handle
        self.accepted = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            self.handle(conn)

    def close(self) -> None:
        self.sock.close()


def echo(conn: socket.socket) -> None:
    while data := conn.recv(65536):
        conn.sendall(data)


class Sink:
    """Counts what arrives, with the times of the first and last bytes."""

    def __init__(self) -> None:
        self.bytes = 0
        self.first = self.last = 0.0
        self.read = threading.Event()
        self.read.set()

    def __call__(self, conn: socket.socket) -> None:
        while True:
            self.read.wait(30)
            data = conn.recv(1 << 20)
            if not data:
                return
            now = time.monotonic()
            self.first = self.first or now
            self.last = now
            self.bytes += len(data)


@pytest.fixture
def echo_server() -> Iterator[Server]:
    server = Server(echo)
    yield server
    server.close()


def ping(sock: socket.socket) -> float:
    start = time.monotonic()
    sock.sendall(b"x")
    assert sock.recv(1) == b"x"
    return time.monotonic() - start


def within(measured: float, expected: float, tolerance: float = 0.10) -> bool:
    return abs(measured - expected) <= tolerance * expected


def twice(measure: Callable[[], float], expected: float) -> float:
    """Measure; once more if the first was off (a loaded machine), return the closest."""
    first = measure()
    if within(first, expected):
        return first
    second = measure()
    return min((first, second), key=lambda v: abs(v - expected))


@pytest.mark.parametrize("delay", [0.025, 0.1])
def test_a_round_trip_costs_twice_the_one_way_delay(echo_server: Server, delay: float) -> None:
    with (
        WanProxy(echo_server.port, delay=delay) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port)) as sock,
    ):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ping(sock)  # the connection to the target is set up with the first byte

        def median_rtt() -> float:
            return statistics.median(ping(sock) for _ in range(7))

        assert within(twice(median_rtt, 2 * delay), 2 * delay)


def test_connecting_costs_a_round_trip(echo_server: Server) -> None:
    with WanProxy(echo_server.port, delay=0.05) as proxy:

        def first_reply() -> float:
            # the first reply pays the far handshake (one RTT) and the round trip itself
            with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
                return ping(sock)

        assert within(twice(first_reply, 0.2), 0.2, 0.15)


def test_the_rate_is_capped_within_ten_percent() -> None:
    rate = 20 * MiB  # bytes/s; 60 MiB in ~3 s: scheduling noise is far below 10%

    def measure() -> float:
        sink = Sink()
        server = Server(sink)
        try:
            with WanProxy(server.port, delay=0.01, rate=rate) as proxy:
                with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
                    block = b"\0" * MiB
                    for _ in range(60):
                        sock.sendall(block)
                deadline = time.monotonic() + 30
                while sink.bytes < 60 * MiB and time.monotonic() < deadline:
                    time.sleep(0.02)
            assert sink.bytes == 60 * MiB
            # the first chunk's own serialization happened before `first`
            return (sink.bytes - 65536) / (sink.last - sink.first)
        finally:
            server.close()

    assert within(twice(measure, rate), rate)


def test_parallel_connections_share_the_cap() -> None:
    rate = 16 * MiB
    sink = Sink()
    server = Server(sink)
    try:
        with WanProxy(server.port, delay=0.01, rate=rate) as proxy:

            def send() -> None:
                with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
                    for _ in range(16):
                        sock.sendall(b"\0" * MiB)

            start = time.monotonic()
            senders = [threading.Thread(target=send) for _ in range(3)]
            for t in senders:
                t.start()
            for t in senders:
                t.join(30)
            deadline = time.monotonic() + 30
            while sink.bytes < 48 * MiB and time.monotonic() < deadline:
                time.sleep(0.02)
            elapsed = time.monotonic() - start
        assert sink.bytes == 48 * MiB
        assert elapsed >= 0.9 * 48 * MiB / rate  # 3 x 16 MiB at 16 MiB/s: about 3 s
    finally:
        server.close()


def test_a_sender_is_back_pressured_beyond_the_bandwidth_delay_product() -> None:
    sink = Sink()
    sink.read.clear()  # the receiver reads nothing: everything piles up
    server = Server(sink)
    rate, delay, buffer = 8 * MiB, 0.05, 256 * 1024
    try:
        with WanProxy(server.port, delay=delay, rate=rate, buffer=buffer) as proxy:
            with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
                sock.settimeout(0.5)
                sent = 0
                deadline = time.monotonic() + 5
                with pytest.raises(TimeoutError):
                    while time.monotonic() < deadline:
                        sent += sock.send(b"\0" * 65536)
                # held by the proxy: at most the bandwidth-delay product plus the buffer
                assert proxy.up.peak <= proxy.up.limit == int(rate * delay) + buffer
                # the rest sits in bounded kernel socket buffers, far below 5 s at the rate
                assert sent < 40 * MiB
            sink.read.set()
    finally:
        server.close()


def test_reset_drops_every_open_connection(echo_server: Server) -> None:
    with WanProxy(echo_server.port, delay=0.005) as proxy:
        socks = [socket.create_connection(("127.0.0.1", proxy.port)) for _ in range(3)]
        for sock in socks:
            ping(sock)
        assert proxy.reset() == 3
        for sock in socks:
            sock.settimeout(5)
            with pytest.raises((ConnectionResetError, AssertionError, BrokenPipeError)):
                sock.sendall(b"y")
                assert sock.recv(1) == b"y"
            sock.close()
        with socket.create_connection(("127.0.0.1", proxy.port)) as again:
            ping(again)  # new connections work at once


def test_a_blackhole_stalls_traffic_and_holds_new_connections(echo_server: Server) -> None:
    with WanProxy(echo_server.port, delay=0.005) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port)) as sock:
            ping(sock)
            proxy.blackhole(1.5)
            start = time.monotonic()
            late = socket.create_connection(("127.0.0.1", proxy.port))
            accepted_before = echo_server.accepted
            assert ping(sock) >= 1.3  # held, not lost: it arrives when the path is back
            assert echo_server.accepted == accepted_before or time.monotonic() - start >= 1.3
            ping(late)
            late.close()
        assert time.monotonic() - start < 5
