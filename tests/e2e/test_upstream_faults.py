"""Upstream failures after the stream starts end it with an error frame, never a hang."""

from __future__ import annotations

import httpx
import pytest

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.support.sse import stream


@pytest.mark.parametrize(
    ("status", "code", "fragment"),
    [
        (401, "upstream_auth_error", "API key"),
        (429, "upstream_rate_limited", "rate-limiting"),
        (500, "upstream_error", "HTTP 500"),
        (503, "upstream_error", "HTTP 503"),
    ],
)
async def test_upstream_status_ends_the_stream_with_an_error_frame(
    client: httpx.AsyncClient, upstream: OpenAIStandIn, status: int, code: str, fragment: str
) -> None:
    """HTTP errors from the provider become one error frame with a code and a clear message."""
    upstream.enqueue(Reply(status=status))
    result = await stream(client, turn("hi", requestId="req-e"))

    assert result.status == 200
    assert [f.event for f in result.frames] == ["error"]
    assert result.error["code"] == code
    assert fragment in result.error["message"]
    assert result.error["requestId"] == "req-e"


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_retries_absorb_a_transient_failure(
    make_server: ServerFactory, upstream: OpenAIStandIn, status: int
) -> None:
    """With retries on, a 429 or 5xx before the first token is retried and the turn succeeds."""
    server = make_server(upstream_max_retries=2)
    upstream.enqueue(Reply(status=status), Reply(tokens=["ok"]))
    async with httpx.AsyncClient(base_url=server.url) as client:
        result = await stream(client, turn("hi"))
    assert result.final["text"] == "ok"
    assert len(upstream.seen) == 2


async def test_first_token_timeout_ends_with_upstream_timeout(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """An upstream that says nothing past the first-token timeout gets upstream_timeout."""
    server = make_server(upstream_first_token_timeout=0.3)
    upstream.enqueue(Reply(first_delay=3))
    async with httpx.AsyncClient(base_url=server.url) as client:
        result = await stream(client, turn("hi"))
        assert result.error["code"] == "upstream_timeout"
        assert "first token" in result.error["message"]


async def test_whole_reply_timeout_ends_with_upstream_timeout(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """A reply slower than the whole-reply timeout stops with upstream_timeout after chunks."""
    server = make_server(upstream_timeout=0.5)
    upstream.enqueue(Reply(token_count=50, delay=0.05), Reply(token_count=50, delay=0.05))
    async with httpx.AsyncClient(base_url=server.url) as client:
        result = await stream(client, turn("hi"))
        assert 0 < len(result.chunks) < 50
        assert result.error["code"] == "upstream_timeout"
        assert "whole reply" in result.error["message"]
        generate = await client.post("/generate", json=turn("again", thread="t-9"))
    assert generate.status_code == 504
    assert generate.json()["error"]["code"] == "upstream_timeout"
