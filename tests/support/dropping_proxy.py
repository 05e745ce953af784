"""A loopback TCP proxy in front of a live server that drops one stream mid-way, as a phone
changing networks would.

Every request that passes is recorded (method, target, headers). The response to the first
``GET /stream/...`` (or the ``cut_nth``) is cut after ``cut_after`` bytes of its body, as sent
(gzipped, chunked): the client's connection and the proxy's connection to the server are both
aborted, so the client sees a broken stream and the server sees its client leave. Later
requests pass untouched, so a client that reconnects with ``Last-Event-ID`` gets the rest.

It reads HTTP/1.1 request heads only to find where one request ends and the next begins on a
kept-alive connection; browsers and Node's fetch send a request only after reading the whole
previous response, so every response byte after a request's head belongs to that request.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

READ_SIZE = 64 * 1024
MAX_HEAD = 64 * 1024
MAX_CONNECTIONS = 64
END_OF_HEAD = b"\r\n\r\n"


@dataclass(frozen=True)
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str]  # names lower-cased

    @property
    def last_event_id(self) -> str | None:
        return self.headers.get("last-event-id")


class _Connection:
    """One client connection and its own connection to the server."""

    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.client = client
        self.server = server
        self.cut_armed = False  # the response now flowing is the one to cut
        self.in_head = True  # the response's head is still coming
        self.tail = b""  # the head's last bytes so far: its end may straddle two reads
        self.body_seen = 0

    def abort(self) -> None:
        for writer in (self.client, self.server):
            writer.transport.abort()


class DroppingProxy:
    """Forwards ``127.0.0.1:<port>`` to ``upstream_url`` and cuts one stream, once."""

    def __init__(
        self,
        upstream_url: str,
        *,
        cut_after: int,
        cut_nth: int = 1,
        cut_prefix: str = "/stream/",
    ) -> None:
        parts = urlsplit(upstream_url)
        assert parts.hostname in ("127.0.0.1", "localhost"), "the proxy forwards to loopback only"
        self._upstream = (parts.hostname, parts.port or 80)
        self._cut_after = cut_after
        self._cut_prefix = cut_prefix
        self._streams_left = cut_nth  # GET /stream requests until the one to cut
        self._lock = threading.Lock()
        self._requests: list[SeenRequest] = []
        self.cuts = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="dropping-proxy")
        self._server: asyncio.Server | None = None
        self._connections: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._requests)

    def stream_requests(self) -> list[SeenRequest]:
        """The ``GET /stream/...`` requests seen so far, in order."""
        return [
            r for r in self.requests if r.method == "GET" and r.target.startswith(self._cut_prefix)
        ]

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        port = future.result(timeout=5)
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        with contextlib.suppress(TimeoutError):
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()

    async def _listen(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, limit=MAX_HEAD)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            connection.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A task of our own, rather than the one asyncio makes for this callback, so that
        # stop() can cancel it without asyncio logging the cancellation as an error.
        task = self._loop.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._connections) >= MAX_CONNECTIONS:
            writer.transport.abort()
            return
        try:
            server_reader, server_writer = await asyncio.open_connection(*self._upstream)
        except OSError:
            writer.transport.abort()
            return
        connection = _Connection(writer, server_writer)
        self._connections.add(connection)
        try:
            await asyncio.gather(
                self._requests_to_server(reader, connection),
                self._responses_to_client(server_reader, connection),
            )
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self._connections.discard(connection)
            connection.abort()

    async def _requests_to_server(self, reader: asyncio.StreamReader, conn: _Connection) -> None:
        while True:
            try:
                head = await reader.readuntil(END_OF_HEAD)
            except asyncio.IncompleteReadError:
                return  # the client closed between requests
            request = _parse_head(head)
            with self._lock:
                self._requests.append(request)
                if request.method == "GET" and request.target.startswith(self._cut_prefix):
                    self._streams_left -= 1
                    conn.cut_armed = self._streams_left == 0
            conn.server.write(head)
            length = int(request.headers.get("content-length", "0"))
            if length:
                conn.server.write(await reader.readexactly(length))
            await conn.server.drain()
            if "chunked" in request.headers.get("transfer-encoding", ""):
                # No client here sends chunked bodies; pass the rest through unparsed.
                while data := await reader.read(READ_SIZE):
                    conn.server.write(data)
                    await conn.server.drain()
                return

    async def _responses_to_client(self, reader: asyncio.StreamReader, conn: _Connection) -> None:
        while data := await reader.read(READ_SIZE):
            if conn.cut_armed:
                keep = self._until_cut(conn, data)
                if keep is not None:
                    conn.client.write(keep)
                    await conn.client.drain()
                    with self._lock:
                        self.cuts += 1
                    conn.abort()
                    return
            conn.client.write(data)
            await conn.client.drain()

    def _until_cut(self, conn: _Connection, data: bytes) -> bytes | None:
        """The part of ``data`` to send before cutting, or None to send it all."""
        start = 0
        if conn.in_head:
            seen = conn.tail + data
            end = seen.find(END_OF_HEAD)
            if end == -1:
                conn.tail = seen[-(len(END_OF_HEAD) - 1) :]
                return None
            start = end + len(END_OF_HEAD) - len(conn.tail)
            conn.in_head = False
        body = len(data) - start
        if conn.body_seen + body < self._cut_after:
            conn.body_seen += body
            return None
        return data[: start + self._cut_after - conn.body_seen]


def _parse_head(head: bytes) -> SeenRequest:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return SeenRequest(method, target, headers)


@contextlib.contextmanager
def dropping_proxy(
    upstream_url: str, *, cut_after: int, cut_nth: int = 1
) -> Iterator[DroppingProxy]:
    """A started :class:`DroppingProxy`, stopped on exit."""
    proxy = DroppingProxy(upstream_url, cut_after=cut_after, cut_nth=cut_nth)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
