"""An httpx transport on plain asyncio sockets, for clients that stream many small reads.

httpx's default transport reads through anyio, which opens a cancel scope (``fail_after``) for
every read: about 9 us each, and a streamed chat reply is one read per token. The backend here
is an ``asyncio.Protocol`` that buffers what arrives and arms a timer only when a read has to
wait. Everything above the socket (httpcore's HTTP/1.1, the connection pool, httpx's requests
and errors) is unchanged; timeouts raise httpcore's ``ReadTimeout`` and friends, which httpx
maps to its own exceptions as it always does. TLS goes through ``loop.start_tls``.

Use it as ``httpx.AsyncClient(transport=AsyncioTransport(limits=...))``. It takes no proxy:
a client that needs one keeps httpx's default transport.
"""

from __future__ import annotations

import asyncio
import ssl
import typing
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = ["AsyncioBackend", "AsyncioTransport"]

# httpcore's SOCKET_OPTION, which it does not export.
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)

# Stop reading from the socket while this much is buffered and unread.
_HIGH_WATER = 1 << 18
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class _Connection(asyncio.Protocol):
    """Buffers received bytes; wakes the one reader waiting for them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.eof = False
        self.error: BaseException | None = None
        self._paused_reading = False
        self._readable: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > _HIGH_WATER and not self._paused_reading and self.transport:
            self._paused_reading = True
            self.transport.pause_reading()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake_reader()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None and self.error is None:
            self.error = exc
        self._wake_reader()
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    # used by the stream

    def take(self, max_bytes: int) -> bytes:
        data = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        if len(data) > max_bytes:
            data, rest = data[:max_bytes], data[max_bytes:]
            self.chunks = [rest]
            self.buffered = len(rest)
        else:
            self.chunks = []
            self.buffered = 0
        if self._paused_reading and self.buffered <= _HIGH_WATER // 4 and self.transport:
            self._paused_reading = False
            self.transport.resume_reading()
        return data

    async def readable(self, limit: float | None) -> None:
        """Wait for bytes or EOF, at most ``limit`` seconds: a bare timer, cheaper than a
        timeout context per read."""
        future = self._readable = self._loop.create_future()
        timer = (
            self._loop.call_later(limit, _time_out, future, httpcore.ReadTimeout)
            if limit is not None
            else None
        )
        try:
            await future
        finally:
            self._readable = None
            if timer is not None:
                timer.cancel()

    async def writable(self, limit: float | None) -> None:
        future = self._writable
        if future is None:
            return
        try:
            async with asyncio.timeout(limit):
                await asyncio.shield(future)
        except TimeoutError:
            raise httpcore.WriteTimeout("timed out writing the request") from None

    def _wake_reader(self) -> None:
        future = self._readable
        if future is not None and not future.done():
            future.set_result(None)


def _time_out(future: asyncio.Future[None], error: type[Exception]) -> None:
    if not future.done():
        future.set_exception(error("timed out waiting for the server"))


class _Stream(httpcore.AsyncNetworkStream):
    def __init__(self, transport: asyncio.Transport, connection: _Connection) -> None:
        self._transport = transport
        self._connection = connection

    # httpcore names the `timeout` parameters of these methods.
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        connection = self._connection
        if not connection.chunks and not connection.eof:
            await connection.readable(timeout)
        else:
            # Bytes already here: still let other tasks run first, as anyio's reads do, or a
            # fast upstream would keep this task busy until its whole reply is in.
            await asyncio.sleep(0)
        if connection.chunks:
            return connection.take(max_bytes)
        if connection.error is not None:
            raise httpcore.ReadError(str(connection.error) or type(connection.error).__name__)
        return b""  # the server closed the connection

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        if not buffer:
            return
        if self._transport.is_closing():
            raise httpcore.WriteError("the connection is closed")
        self._transport.write(buffer)
        await self._connection.writable(timeout)

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                transport = await loop.start_tls(
                    self._transport, self._connection, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError:
            self._transport.abort()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from None
        except (OSError, ssl.SSLError) as exc:
            self._transport.abort()
            raise httpcore.ConnectError(str(exc)) from exc
        if transport is None:
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._connection.transport = transport
        return _Stream(transport, self._connection)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        if info == "is_readable":
            # An idle keep-alive connection with bytes or EOF waiting was closed by the server.
            return bool(self._connection.chunks) or self._connection.eof
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend on ``asyncio`` protocols."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = (local_address, 0) if local_address else None
        return await self._connect(
            loop.create_connection(lambda: _Connection(loop), host, port, local_addr=local),
            timeout,
            socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        return await self._connect(
            loop.create_unix_connection(lambda: _Connection(loop), path), timeout, socket_options
        )

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    @staticmethod
    async def _connect(
        connecting: typing.Awaitable[tuple[asyncio.BaseTransport, _Connection]],
        limit: float | None,
        socket_options: Iterable[SocketOption] | None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(limit):
                transport, connection = await connecting
        except TimeoutError:
            raise httpcore.ConnectTimeout("timed out connecting") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock = transport.get_extra_info("socket")
        for option in socket_options or ():
            sock.setsockopt(*option)
        return _Stream(typing.cast(asyncio.Transport, transport), connection)


# httpcore's exceptions and the httpx ones they become, most specific last; httpx keeps its own
# table private, so the mapping is spelled out here from both libraries' public classes.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
)


def _as_httpx(exc: Exception) -> httpx.HTTPError | None:
    """The httpx exception for an httpcore one (the most specific class that matches)."""
    mapped: type[httpx.HTTPError] | None = None
    for source, target in _EXCEPTIONS:
        if isinstance(exc, source) and (mapped is None or issubclass(target, mapped)):
            mapped = target
    return None if mapped is None else mapped(str(exc))


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> typing.AsyncIterator[bytes]:
        try:
            async for part in self._stream:
                yield part
        except Exception as exc:
            mapped = _as_httpx(exc)
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class AsyncioTransport(httpx.AsyncBaseTransport):
    """An httpx transport (HTTP/1.1, no proxy) on httpcore's connection pool over
    :class:`AsyncioBackend`, through the pool's public ``network_backend`` parameter."""

    def __init__(
        self,
        *,
        verify: ssl.SSLContext | str | bool = True,
        trust_env: bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        local_address: str | None = None,
        retries: int = 0,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=trust_env),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            local_address=local_address,
            retries=retries,
            socket_options=socket_options,
            network_backend=AsyncioBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("AsyncioTransport needs an async request body")
        url = request.url
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core_request)
        except Exception as exc:
            mapped = _as_httpx(exc)
            if mapped is None:
                raise
            raise mapped from exc
        if not isinstance(response.stream, typing.AsyncIterable):
            raise TypeError("httpcore answered an async request with a sync body")
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
