"""The response that sends Server-Sent Event frames (encoded by ``app.wire.codec``), gzipped
per stream when the client accepts it."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

# A 512-byte window (the least zlib allows) still reaches back over a whole chat chunk frame,
# whose repeated head is what compresses; with memLevel 2 a stream's compressor holds about
# 10 KiB instead of zlib's default 256 KiB. A LangGraph messages-tuple frame is about 500 bytes,
# most of them the same as the previous frame's: a 4 KiB window (about 24 KiB a stream) reaches
# back over it; with 512 bytes nothing matches and deflate costs 50 us a frame for nothing.
SMALL_WINDOW = 9
LARGE_WINDOW = 12
_GZIP_MEM_LEVEL = 2


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip: named with q > 0, or ``*`` with q > 0
    and gzip not named (RFC 9110, section 12.5.3)."""
    gzip_q: float | None = None
    any_q: float | None = None
    for item in accept_encoding.split(","):
        coding, *params = item.split(";")
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        coding = coding.strip().lower()
        if coding in ("gzip", "x-gzip"):
            gzip_q = q
        elif coding == "*":
            any_q = q
    if gzip_q is not None:
        return gzip_q > 0
    return any_q is not None and any_q > 0


class GzipSend:
    """Wraps an ASGI ``send``: the body messages of one response become one gzip stream, flushed
    (``Z_SYNC_FLUSH``) after each message so that every frame can be decoded the moment it
    arrives; the last message finishes the stream."""

    __slots__ = ("_compressor", "_lock", "_send")

    def __init__(self, send: Send, window: int = SMALL_WINDOW) -> None:
        self._send = send
        # 16+: a gzip header and trailer. With the large window a frame is mostly one long
        # match, which level 1 finds as well as level 6, in two thirds of the time.
        level = 1 if window > SMALL_WINDOW else 6
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 16 + window, _GZIP_MEM_LEVEL)
        # Frames and pings are sent by two tasks. uvicorn may hold a send until the socket
        # drains and then write in any order, which a plain stream survives but a gzip stream
        # does not: compressing and sending happen as one step.
        self._lock = asyncio.Lock()

    async def __call__(self, message: Message) -> None:
        if message["type"] != "http.response.body":
            await self._send(message)
            return
        more_body = message.get("more_body", False)
        async with self._lock:
            compressor = self._compressor
            body = compressor.compress(message.get("body", b""))
            body += compressor.flush(zlib.Z_SYNC_FLUSH if more_body else zlib.Z_FINISH)
            await self._send({"type": "http.response.body", "body": body, "more_body": more_body})


class EventStream(EventSourceResponse):
    """sse-starlette's response (pings, disconnect watch, shutdown grace) with three changes:

    - its pings end lines with LF, as our frames do (sse-starlette's default is CRLF, which
      left one stream with two kinds of line end);
    - no cancel scope around every send when no ``send_timeout`` is set: such a scope can never
      fire, yet it cost about as much as building the frame (an anyio ``move_on_after``);
    - with ``gzip=True``, a client whose ``Accept-Encoding`` allows it gets the stream gzipped,
      pings included, and flushed after every send (see ``GzipSend``).
    """

    # status_code is spelled out: FastAPI reads its default off this signature for OpenAPI.
    def __init__(
        self,
        content: Any,
        status_code: int = 200,
        *,
        sep: str | None = "\n",
        gzip: bool = False,
        gzip_window: int = SMALL_WINDOW,
        **kwargs: Any,
    ) -> None:
        super().__init__(content, status_code, sep=sep, **kwargs)
        self.gzip = gzip
        self.gzip_window = gzip_window
        if gzip:
            self.headers["Vary"] = "Accept-Encoding"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.gzip and accepts_gzip(",".join(Headers(scope=scope).getlist("accept-encoding"))):
            self.headers["Content-Encoding"] = "gzip"
            # HEAD sends no body, so there is nothing to compress (and no trailer to send).
            if scope.get("method") != "HEAD":
                send = GzipSend(send, self.gzip_window)
        await super().__call__(scope, receive, send)

    # Private to sse-starlette (listed in model_client._private): if it is renamed, this
    # override is never called and sends keep their (never-firing) cancel scope.
    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        if self.send_timeout is None:
            await send(message)
        else:
            await super()._send_with_timeout(send, message)


def frame(frame_id: int | None, event: bytes, data: bytes) -> bytes:
    """One Server-Sent Events frame: its id (none for a frame outside the run's positions),
    its event name and its one line of data. Every wire format builds its frames here (the chat
    API's chunk and LangGraph's messages-tuple frames are this with their constant head
    precomputed, for the token path)."""
    if frame_id is None:
        return b"event: %s\ndata: %s\n\n" % (event, data)
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (frame_id, event, data)


def data_frame(data: bytes) -> bytes:
    """A frame of data alone, no id or event name: how the AI SDK's UI message stream and AG-UI
    send every event (their clients read the type from the JSON)."""
    return b"data: %s\n\n" % data
