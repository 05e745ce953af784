"""POST /stream gzipped over a real socket: negotiated by Accept-Encoding, flushed per frame."""

from __future__ import annotations

import re
import zlib
from typing import Any

import httpx
import pytest

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.e2e.bodies import SEED_STREAM
from tests.support.sse import stream

GZIP_MAGIC = b"\x1f\x8b"
FIRST_FRAME = (
    b'retry: 1000\nid: 1\nevent: stream_event\ndata: {"type":"chunk","content":"Once "}\n\n'
)


def gunzip() -> Any:
    return zlib.decompressobj(16 + zlib.MAX_WBITS)


async def wire_body(
    base_url: str, body: dict[str, Any], accept_encoding: str | None
) -> tuple[httpx.Headers, bytes]:
    """POST /stream and return the response headers and its body as sent (not decoded);
    ``accept_encoding=None`` sends no Accept-Encoding header at all."""
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
        if accept_encoding is None:
            del http.headers["accept-encoding"]
        else:
            http.headers["accept-encoding"] = accept_encoding
        async with http.stream("POST", "/stream", json=body) as response:
            assert response.status_code == 200
            sent = response.request.headers.get("accept-encoding")
            assert sent == accept_encoding
            raw = b"".join([piece async for piece in response.aiter_raw()])
            return response.headers, raw


def without_timings(body: bytes) -> bytes:
    return re.sub(rb'"timings":\{[^}]*\}', b'"timings":{}', body)


async def test_stream_when_client_accepts_gzip_then_each_frame_decodes_as_it_arrives(
    server: Any, upstream: OpenAIStandIn
) -> None:
    """The response is gzip, and the first chunk frame decodes off the socket while the
    upstream is still holding back the later tokens."""
    upstream.enqueue(Reply(token_count=6, delay=0.15))
    decoder, text = gunzip(), b""
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=20) as http,
        http.stream(
            "POST", "/stream", json=SEED_STREAM, headers={"Accept-Encoding": "gzip"}
        ) as response,
    ):
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["content-type"].startswith("text/event-stream")
        async for piece in response.aiter_raw():
            if not text:
                assert piece.startswith(GZIP_MAGIC)
            text += decoder.decompress(piece)
            if b"\n\n" in text:
                break
        seen = upstream.seen[-1]
        assert not seen.finished
        assert seen.tokens_sent < 6
    assert text == FIRST_FRAME


async def test_gzipped_stream_decodes_to_the_same_bytes_as_the_plain_one(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """Decoded, a gzipped stream is byte for byte the plain stream (ids, frame shape, final),
    timings aside; on the wire it is much smaller, and the gzip stream is properly closed."""
    upstream.default = Reply(token_count=40)
    plain_headers, plain = await wire_body(make_server().url, SEED_STREAM, "identity")
    gzip_headers, gzipped = await wire_body(make_server().url, SEED_STREAM, "gzip, deflate")

    assert "content-encoding" not in plain_headers
    assert gzip_headers["content-encoding"] == "gzip"
    decoder = gunzip()
    decoded = decoder.decompress(gzipped)
    assert decoder.eof
    assert decoder.unused_data == b""
    assert plain.startswith(FIRST_FRAME)
    assert plain.count(b"\n\n") == 41
    assert b"event: final\n" in plain
    assert without_timings(decoded) == without_timings(plain)
    assert len(gzipped) * 2 < len(plain)


@pytest.mark.parametrize("accept_encoding", ["identity", "deflate, br", "gzip;q=0", None])
async def test_stream_when_client_does_not_accept_gzip_then_plain_text(
    server: Any, upstream: OpenAIStandIn, accept_encoding: str | None
) -> None:
    """Without gzip in Accept-Encoding (or with no such header, as `curl -N` sends) the
    stream is plain text, and still says that it varies by Accept-Encoding."""
    headers, body = await wire_body(server.url, SEED_STREAM, accept_encoding)
    assert "content-encoding" not in headers
    assert headers["vary"] == "Accept-Encoding"
    assert body.startswith(FIRST_FRAME)
    assert b"event: final\n" in body


async def test_stream_when_compression_is_off_then_plain_text_for_gzip_clients(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """SSE_COMPRESSION=off answers a client that accepts gzip in plain text."""
    server = make_server(sse_compression="off")
    headers, body = await wire_body(server.url, SEED_STREAM, "gzip, deflate, br, zstd")
    assert "content-encoding" not in headers
    assert "vary" not in headers
    assert body.startswith(FIRST_FRAME)


async def test_error_frame_of_a_gzipped_stream_decodes(
    server: Any, upstream: OpenAIStandIn
) -> None:
    """A stream cut by the upstream ends gzipped with a decodable error frame."""
    upstream.enqueue(Reply(drop_after=2))
    headers, gzipped = await wire_body(server.url, SEED_STREAM, "gzip")
    assert headers["content-encoding"] == "gzip"
    decoder = gunzip()
    decoded = decoder.decompress(gzipped)
    assert decoder.eof
    frames = decoded.split(b"\n\n")
    assert frames[-1] == b""
    assert frames[2].startswith(b"id: 3\nevent: error\ndata: ")
    assert b'"code":"upstream_error"' in frames[2]

    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        upstream.enqueue(Reply(drop_after=2))
        result = await stream(http, {**SEED_STREAM, "requestId": "req-again"})
    assert result.headers["content-encoding"] == "gzip"
    assert result.chunks == ["Once ", "upon "]
    assert result.error["code"] == "upstream_error"


async def test_pings_of_a_gzipped_stream_arrive_while_the_reply_waits(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """Keep-alive comments go through the same compressor and are flushed at once: they
    decode while the upstream has not sent a token yet, and the frames after them still do."""
    server = make_server(sse_ping_seconds=0.1)
    upstream.enqueue(Reply(token_count=3, first_delay=1.0))
    decoder, text = gunzip(), b""
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=20) as http,
        http.stream(
            "POST", "/stream", json=SEED_STREAM, headers={"Accept-Encoding": "gzip"}
        ) as response,
    ):
        assert response.headers["content-encoding"] == "gzip"
        pieces = response.aiter_raw()
        async for piece in pieces:
            text += decoder.decompress(piece)
            if b"\n\n" in text:
                break
        assert upstream.seen[-1].tokens_sent == 0
        assert text.startswith(b": ping")
        async for piece in pieces:
            text += decoder.decompress(piece)
    assert decoder.eof
    assert text.count(b": ping") >= 2
    frames = [f for f in text.split(b"\n\n") if f and not f.startswith(b":")]
    assert frames[0] == FIRST_FRAME.rstrip(b"\n")
    events = [next(line for line in f.split(b"\n") if line.startswith(b"event:")) for f in frames]
    assert events == [b"event: stream_event"] * 3 + [b"event: final"]
