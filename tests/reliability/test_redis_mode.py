"""The server with REDIS_URL: memory across restarts, replicas sharing Redis, Redis outages."""

from __future__ import annotations

import asyncio

import httpx

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.support.redis_server import RedisServer
from tests.support.sse import frames, stream

SLOW = Reply(token_count=40, delay=0.05)


async def test_memory_survives_a_server_restart(
    make_server: ServerFactory, upstream: OpenAIStandIn, shared_redis: str
) -> None:
    """A multi-turn chat through a server on Redis continues after the server restarts."""
    first = make_server(redis_url=shared_redis)
    async with httpx.AsyncClient(base_url=first.url) as client:
        for text in ("one", "two"):
            assert (await client.post("/generate", json=turn(text))).status_code == 200
        health = (await client.get("/health")).json()
    assert health["checkpointer"] == "redis"
    first.stop()

    second = make_server(redis_url=shared_redis)
    async with httpx.AsyncClient(base_url=second.url) as client:
        assert (await client.post("/generate", json=turn("three"))).status_code == 200
    contents = [m["content"] for m in upstream.seen[-1].messages if m["role"] == "user"]
    assert contents == ["one", "two", "three"]


async def test_replicas_share_busy_threads_duplicates_and_cancel(
    make_server: ServerFactory, upstream: OpenAIStandIn, shared_redis: str
) -> None:
    """Two servers on one Redis: a thread runs once, a requestId once, cancel works anywhere."""
    a = make_server(redis_url=shared_redis)
    b = make_server(redis_url=shared_redis)
    upstream.enqueue(SLOW)
    async with httpx.AsyncClient(base_url=a.url) as ca, httpx.AsyncClient(base_url=b.url) as cb:
        async with ca.stream("POST", "/stream", json=turn("long", requestId="r-x")) as resp:
            events = frames(resp)
            first = await anext(events)
            assert first.event == "stream_event"

            busy = await cb.post("/generate", json=turn("meanwhile"))
            assert busy.status_code == 409
            assert busy.json()["error"]["code"] == "thread_busy"
            dup = await cb.post("/generate", json=turn("again", requestId="r-x", thread="t-2"))
            assert dup.status_code == 409
            assert dup.json()["error"]["code"] == "duplicate_request"

            cancelled = await cb.post("/cancel/r-x")
            assert cancelled.status_code == 200
            rest = [f async for f in events]
        assert rest[-1].event == "final"
        assert rest[-1].data["metadata"]["finishReason"] == "cancelled"
        # The thread is free again, on either replica.
        after = await cb.post("/generate", json=turn("after"))
        assert after.status_code == 200
    assert len(upstream.seen) == 2


async def test_redis_outage_gives_503s_and_the_server_recovers_by_itself(
    make_server: ServerFactory, upstream: OpenAIStandIn, own_redis: RedisServer
) -> None:
    """Redis down: /ready and turns answer 503 naming Redis; Redis back: turns work again."""
    server = make_server(redis_url=own_redis.url)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        assert (await client.post("/generate", json=turn("before"))).status_code == 200
        own_redis.stop()

        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert "Redis" in ready.json()["error"]["message"]
        for path in ("/stream", "/generate"):
            refused = await client.post(path, json=turn("during"))
            assert refused.status_code == 503
            error = refused.json()["error"]
            assert error["code"] == "store_unavailable"
            assert "Redis" in error["message"]
            assert "Traceback" not in refused.text
        assert (await client.get("/health")).status_code == 200  # liveness is not readiness

        own_redis.start()
        assert (await client.get("/ready")).status_code == 200
        result = await stream(client, turn("after", thread="t-new"))
        assert result.final["metadata"]["finishReason"] == "stop"


async def test_server_starts_while_redis_is_down(
    make_server: ServerFactory, upstream: OpenAIStandIn, own_redis: RedisServer
) -> None:
    """The server starts without Redis, reports 503 on /ready, and serves once Redis is up."""
    own_redis.stop()
    server = make_server(redis_url=own_redis.url)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        assert (await client.get("/ready")).status_code == 503
        own_redis.start()
        await asyncio.sleep(0)
        assert (await client.get("/ready")).status_code == 200
        assert (await client.post("/generate", json=turn("hi"))).status_code == 200
