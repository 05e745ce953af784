"""Frame encoding (app/encoders/seed.py) and the SSE response (app/sse.py), without a server."""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator

import pytest
from starlette.types import Message, Send

from app.wire.chat import chunk_frame, event_frame
from app.wire.sse import EventStream, GzipSend, accepts_gzip


@pytest.mark.parametrize(
    ("accept_encoding", "expected"),
    [
        ("gzip", True),
        ("gzip, deflate, br, zstd", True),  # Chromium
        ("gzip, deflate, zstd", True),  # httpx
        ("GZip;Q=0.5", True),
        ("x-gzip", True),
        ("*", True),
        ("deflate, *;q=0.1", True),
        ("", False),
        ("identity", False),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("*;q=0", False),
        ("*, gzip;q=0", False),  # naming gzip overrides the wildcard
        ("gzip;q=nonsense", False),
    ],
)
def test_accepts_gzip_follows_the_accept_encoding_rules(
    accept_encoding: str, expected: bool
) -> None:
    """gzip is chosen when named with q > 0, or allowed by * without being refused by name."""
    assert accepts_gzip(accept_encoding) is expected


async def test_gzip_send_flushes_every_message_so_each_decodes_on_arrival() -> None:
    """Each body message comes out as a self-contained piece: decoding what has arrived so far
    gives exactly the frames sent so far, and the last message closes the gzip stream."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    gzip_send = GzipSend(send)
    frames = [chunk_frame(1, "Once "), b": ping\n\n", chunk_frame(2, "upon ")]
    frames.append(event_frame(3, "final", {"text": "Once upon "}))
    await gzip_send({"type": "http.response.start", "status": 200, "headers": []})
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    for frame in frames:
        await gzip_send({"type": "http.response.body", "body": frame, "more_body": True})
        assert decoder.decompress(sent[-1]["body"]) == frame
    await gzip_send({"type": "http.response.body", "body": b"", "more_body": False})

    assert sent[0] == {"type": "http.response.start", "status": 200, "headers": []}
    assert sent[-1]["more_body"] is False
    assert decoder.decompress(sent[-1]["body"]) == b""
    assert decoder.eof  # the trailer (CRC and length) arrived and checked out
    assert len(b"".join(m["body"] for m in sent[1:])) < len(b"".join(frames))


async def test_gzip_send_keeps_order_when_a_send_waits_for_the_socket() -> None:
    """A ping sent just as a frame's send is released by the socket draining goes out after that
    frame (as uvicorn could otherwise write it first), so the gzip stream stays decodable."""
    paused, drained = True, asyncio.Event()
    written: list[bytes] = []

    async def send(message: Message) -> None:  # uvicorn's: wait while the socket is full
        if paused:
            await drained.wait()
        written.append(message["body"])

    gzip_send = GzipSend(send)
    frame, ping = chunk_frame(1, "Once "), b": ping\n\n"
    first = asyncio.create_task(
        gzip_send({"type": "http.response.body", "body": frame, "more_body": True})
    )
    await asyncio.sleep(0.01)
    assert written == []  # the frame is compressed and waiting for the socket
    paused = False
    drained.set()
    # Before the waiting send resumes, the ping task sends.
    await gzip_send({"type": "http.response.body", "body": ping, "more_body": True})
    await first

    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert decoder.decompress(b"".join(written)) == frame + ping


async def test_event_stream_sends_through_its_send_with_timeout_override() -> None:
    """Pins sse-starlette's private ``_send_with_timeout`` hook: every body send goes through
    it, so the override (no cancel scope when no send timeout is set) is what runs."""
    calls: list[bytes] = []

    class Counting(EventStream):
        async def _send_with_timeout(self, send: Send, message: Message) -> None:
            calls.append(message.get("body", b""))
            await super()._send_with_timeout(send, message)

    async def body() -> AsyncIterator[bytes]:
        yield chunk_frame(1, "a")
        yield chunk_frame(2, "b")

    sent: list[Message] = []
    disconnect = asyncio.Event()

    async def receive() -> Message:
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "headers": [], "path": "/stream"}
    await Counting(body(), ping=60)(scope, receive, send)

    assert calls[:2] == [chunk_frame(1, "a"), chunk_frame(2, "b")]
    assert b"".join(m.get("body", b"") for m in sent).startswith(chunk_frame(1, "a"))
