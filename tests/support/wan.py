"""A simulated long fat link on loopback: a TCP proxy in front of a site's sshd.

`WanProxy` listens on 127.0.0.1 and forwards every connection to a target port on
127.0.0.1 (a site's sshd), through two `Link`s, one per direction, shared by all the
connections of the proxy, like the one path to a remote site:

- **one-way delay**: a delay line; every chunk read leaves `delay` seconds after it went
  onto the link, in order, so a round trip costs `2 * delay` (SSH login, channel opening,
  rsync's handshake and file list all pay it);
- **bandwidth**: the link serializes chunks at `rate` bytes/s (shared by every connection,
  as parallel streams share one path);
- **bounded buffering**: a link holds at most the bandwidth-delay product plus `buffer`
  bytes (in flight + queued); beyond that the proxy stops reading, the loopback socket
  fills and the sender is back-pressured. So a window-limited protocol (SSH's 2 MiB channel
  window) gets about window / RTT per channel, as on a real long link;
- **faults on demand**: `reset()` aborts every open connection (RST on both sides);
  `blackhole(seconds)` stops all traffic and holds new connections (nothing reaches the
  target) for that long, after which the held bytes flow again (TCP retransmission).

What it does not model: TCP congestion control (slow start, the congestion window, the
kernel's window scaling over the delay: the sockets are loopback ones), packet loss, jitter
and reordering. A stream through it is only limited by the application's own windows, the
rate and the buffer. Everything stays on 127.0.0.1; the proxy runs its own asyncio loop in
a daemon thread, and stops by itself after `lifetime` seconds if nobody stopped it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

CHUNK = 64 * 1024
MBIT = 1_000_000 / 8  # bytes/s in one Mbit/s


@dataclass
class Link:
    """One direction of the path: serialization at `rate`, then `delay`, bounded bytes."""

    delay: float  # seconds, one way
    rate: float  # bytes/s; 0 = unlimited
    buffer: int  # bytes allowed beyond the bandwidth-delay product
    free_at: float = 0.0  # when the link finishes serializing what it holds
    held: int = 0  # bytes on the link (queued or in flight), not yet delivered
    peak: int = 0
    bytes: int = 0  # delivered in total
    changed: asyncio.Event | None = None  # set when bytes leave the link

    def release(self, size: int) -> None:
        self.held -= size
        if self.changed is not None:
            self.changed.set()

    async def room(self, size: int) -> None:
        """Wait until `size` more bytes fit on the link (back-pressure beyond it)."""
        assert self.changed is not None
        while self.held + size > self.limit:
            self.changed.clear()
            await self.changed.wait()

    @property
    def limit(self) -> int:
        bdp = int(self.rate * self.delay) if self.rate else 0
        return max(CHUNK, bdp + self.buffer)

    def schedule(self, now: float, size: int) -> float:
        """The delivery time of `size` bytes put on the link at `now`."""
        start = max(now, self.free_at)
        self.free_at = start + (size / self.rate if self.rate else 0.0)
        self.held += size
        self.peak = max(self.peak, self.held)
        return self.free_at + self.delay


@dataclass(eq=False)
class _Conn:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a dropped connection is seen by both ends."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class WanProxy:
    """127.0.0.1:`port` -> 127.0.0.1:`target` with delay, rate cap, buffer and faults."""

    def __init__(
        self,
        target: int,
        *,
        delay: float = 0.05,
        rate: float = 0.0,
        buffer: int = 1 << 20,
        lifetime: float = 3600.0,
    ) -> None:
        self.target = target
        self.up = Link(delay, rate, buffer)  # client -> target
        self.down = Link(delay, rate, buffer)  # target -> client
        self.lifetime = lifetime
        self.port = 0
        self.connections = 0  # accepted in total
        self._conns: set[_Conn] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._blackhole_until = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="wan-proxy", daemon=True)
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None

    # ---- control, from any thread ---------------------------------------------------------

    def start(self) -> WanProxy:
        self._thread.start()
        if not self._ready.wait(10) or not self.port:
            raise RuntimeError("WAN proxy did not start")
        return self

    def stop(self) -> None:
        if self._thread.is_alive() and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)

    def __enter__(self) -> WanProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def reset(self) -> int:
        """Abort every open connection (both sides get a RST); return how many."""
        done = threading.Event()
        count = [0]

        def abort_all() -> None:
            count[0] = len(self._conns)
            for conn in list(self._conns):
                _abort(conn.client)
                if conn.upstream is not None:
                    _abort(conn.upstream)
                for task in conn.tasks:
                    task.cancel()
            self._conns.clear()
            done.set()

        self._loop.call_soon_threadsafe(abort_all)
        done.wait(10)
        return count[0]

    def blackhole(self, seconds: float) -> None:
        """Stop all traffic, and hold new connections, for `seconds` from now."""
        self._blackhole_until = time.monotonic() + seconds

    def set_delay(self, delay: float) -> None:
        """Change the one-way delay (both directions) for what goes onto the link next."""
        self.up.delay = self.down.delay = delay

    def set_rate(self, rate: float) -> None:
        """Change the cap (bytes/s, both directions) from now on."""
        self.up.rate = self.down.rate = rate

    @property
    def rtt(self) -> float:
        return self.up.delay + self.down.delay

    # ---- the loop -----------------------------------------------------------------------------

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        for link in (self.up, self.down):
            link.changed = asyncio.Event()
        server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self.lifetime)
        server.close()
        for conn in list(self._conns):
            _abort(conn.client)
            if conn.upstream is not None:
                _abort(conn.upstream)
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def _wait_blackhole(self) -> None:
        while (left := self._blackhole_until - time.monotonic()) > 0:
            await asyncio.sleep(min(left, 0.05))

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        handler.add_done_callback(self._handlers.discard)
        conn = _Conn(writer)
        self._conns.add(conn)
        try:
            await self._wait_blackhole()  # the SYN is lost until the path is back
            await asyncio.sleep(self.rtt)  # the handshake to the far side
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except (OSError, asyncio.CancelledError):
            self._conns.discard(conn)
            _abort(writer)
            return
        conn.upstream = up_writer
        conn.tasks = [
            asyncio.ensure_future(self._pipe(reader, up_writer, self.up)),
            asyncio.ensure_future(self._pipe(up_reader, writer, self.down)),
        ]
        with contextlib.suppress(asyncio.CancelledError):  # the proxy stops: pipes with it
            await asyncio.gather(*conn.tasks, return_exceptions=True)
        self._conns.discard(conn)
        for w in (writer, up_writer):
            w.close()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link
    ) -> None:
        """Read, put on the link (waiting for room), deliver after the delay, in order."""
        line: collections.deque[tuple[float, bytes]] = collections.deque()
        arrived = asyncio.Event()
        eof = False

        async def deliver() -> None:
            while line or not eof:
                if not line:
                    arrived.clear()
                    await arrived.wait()
                    continue
                due, data = line[0]
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._wait_blackhole()
                line.popleft()
                link.release(len(data))
                link.bytes += len(data)
                writer.write(data)
                await writer.drain()  # a receiver that does not read stops the line
            if writer.can_write_eof():
                writer.write_eof()

        sender = asyncio.ensure_future(deliver())
        try:
            while True:
                await self._wait_blackhole()
                data = await reader.read(CHUNK)
                if not data:
                    break
                await link.room(len(data))
                line.append((link.schedule(time.monotonic(), len(data)), data))
                arrived.set()
            eof = True
            arrived.set()
            await sender
        except (OSError, asyncio.CancelledError):
            sender.cancel()
            # what was on the link for this connection is gone with it
            link.release(sum(len(d) for _, d in line))
            raise
