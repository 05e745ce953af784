"""API keys, CORS, body limits, metrics and structured logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from app.observability.logs import ContextFilter, JSONFormatter
from bench.openai_standin import OpenAIStandIn
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.support.sse import stream


async def test_api_keys_guard_every_endpoint_but_health(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """With API_KEYS set, requests need a valid Bearer key; /health stays open."""
    server = make_server(api_keys="key-one, key-two")
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/health")).status_code == 200
        for method, path in [("GET", "/ready"), ("GET", "/graph-types"), ("POST", "/generate"),
                             ("GET", "/metrics"), ("POST", "/cancel/x"),
                             ("GET", "/threads/t/messages"), ("GET", "/openapi.json")]:  # fmt: skip
            for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "key-one"}):
                response = await client.request(method, path, headers=headers, json=turn("x"))
                assert response.status_code == 401, (method, path, headers)
                assert response.json()["error"]["code"] == "unauthorized"
                assert response.headers["www-authenticate"] == "Bearer"
        ok = await client.post(
            "/generate", json=turn("hi"), headers={"authorization": "Bearer key-two"}
        )
        assert ok.status_code == 200
    assert len(upstream.seen) == 1


async def test_cors_allows_configured_origins_only(make_server: ServerFactory) -> None:
    """CORS_ORIGINS lets those origins call from a browser, preflight included."""
    server = make_server(cors_origins="https://chat.example", api_keys="k")
    async with httpx.AsyncClient(base_url=server.url) as client:
        preflight = await client.options(
            "/stream",
            headers={
                "origin": "https://chat.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://chat.example"
        other = await client.get("/health", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_body_is_413(client: httpx.AsyncClient, chunked: bool) -> None:
    """Bodies over MAX_BODY_BYTES are refused with 413, with or without Content-Length."""
    body = json.dumps(turn("x" * (2 << 20))).encode()

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 << 10):
            yield body[start : start + (64 << 10)]

    response = await client.post(
        "/stream",
        content=pieces() if chunked else body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    "body",
    [
        turn("a\x00b"),
        turn("x" * 40_000),
        turn("hi", graphSettings={"graphType": "streaming-chat::1.0.0", "a": {"b": {"c": [1]}}}),
        turn("hi", graphSettings={"graphType": "streaming-chat::1.0.0", "model": ["x"] * 10_000}),
        turn("hi", requestId="x" * 500),
        {"message": {"content": "hi"}, "userId": "a/b"},
        [1, 2, 3],
        "just a string",
    ],
)
async def test_hostile_bodies_get_4xx_never_5xx(
    client: httpx.AsyncClient, upstream: OpenAIStandIn, body: object
) -> None:
    """Null bytes, huge or nested settings, long or path-like ids: 4xx with the envelope."""
    response = await client.post("/generate", json=body)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] in ("validation_error", "payload_too_large")
    assert upstream.seen == []


async def test_deeply_nested_json_is_refused_cleanly(client: httpx.AsyncClient) -> None:
    """A body nested past the parser's depth is a 4xx, not a crash."""
    body = b'{"message": {"content": "hi"}, "graphSettings": ' + b"[" * 100_000 + b"]" * 100_000
    response = await client.post(
        "/generate", content=body + b"}", headers={"content-type": "application/json"}
    )
    assert 400 <= response.status_code < 500


async def test_metrics_count_requests_streams_tokens_and_errors(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """/metrics exposes request counts, TTFT, durations, tokens and errors by code."""
    await stream(client, turn("hi"))
    await client.post("/generate", json=turn("x", graphType="nope"))
    expected = [
        'agent_http_requests_total{method="POST",route="/stream",status="200"} 1.0',
        'agent_http_requests_total{method="POST",route="/generate",status="404"} 1.0',
        'agent_tokens_streamed_total{graph="streaming-chat::1.1.0"} 12.0',
        'agent_ttft_seconds_count{graph="streaming-chat::1.1.0"} 1.0',
        'agent_errors_total{code="graph_not_found"} 1.0',
        "agent_active_streams 0.0",
    ]
    # A stream is counted when the server's handler returns, which can be just after the
    # client has read the last byte: give it a moment (bounded) before asserting.
    for _ in range(200):
        text = (await client.get("/metrics")).text
        if all(line in text for line in expected):
            break
        await asyncio.sleep(0.01)
    for line in expected:
        assert line in text


def test_json_logs_carry_the_turns_ids() -> None:
    """A record logged during a turn carries requestId, threadId and userId."""
    from app.observability.logs import turn_context

    token = turn_context.set({"requestId": "r-1", "threadId": "t-1", "userId": "u-1"})
    try:
        record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        assert ContextFilter().filter(record)
        entry = json.loads(JSONFormatter().format(record))
    finally:
        turn_context.reset(token)
    assert entry["message"] == "hello world"
    assert (entry["requestId"], entry["threadId"], entry["userId"]) == ("r-1", "t-1", "u-1")
