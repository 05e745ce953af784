"""Regressions for what the soak benchmark found (bench/SOAK.md), one test per bug."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
import redis

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.support.redis_server import RedisServer
from tests.support.sse import frames, stream


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    server = RedisServer(persist=True)
    server.start()
    yield server
    server.stop()


async def test_a_burst_of_first_turns_waits_for_redis_connections(
    make_server: ServerFactory, upstream: OpenAIStandIn, redis_db: str
) -> None:
    """More simultaneous turns than redis-py's default pool holds get 200s, never 503s."""
    server = make_server(redis_url=redis_db)
    upstream.default = Reply(token_count=3, delay=0.05)
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post("/generate", json=turn("hi", thread=f"t{i}")) for i in range(150))
        )
    assert sorted({r.status_code for r in responses}) == [200]


async def test_cancel_while_the_whole_reply_is_being_saved_stores_it_once(
    make_server: ServerFactory, upstream: OpenAIStandIn, own_redis: RedisServer
) -> None:
    """A cancel landing after the last token, mid exit-write, never duplicates the reply."""
    server = make_server(redis_url=own_redis.url)
    upstream.enqueue(Reply(token_count=6, delay=0.02))
    admin = redis.Redis(port=own_redis.port)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        async with client.stream("POST", "/stream", json=turn("hi", requestId="c1")) as resp:
            events = frames(resp)
            await anext(events)
            admin.client_pause(1500, all=False)  # writes wait; the run's exit write hangs
            await asyncio.sleep(0.3)  # every token is out by now
            assert (await client.post("/cancel/c1")).status_code == 200
            _ = [f async for f in events]
        await asyncio.sleep(1.5)
        history = await client.get("/threads/t-1/messages", params={"userId": "u-1"})
    admin.close()
    messages = history.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["content"] == "".join(Reply(token_count=6).words())


async def test_claims_lost_in_a_redis_outage_do_not_keep_the_thread_busy(
    make_server: ServerFactory, upstream: OpenAIStandIn, own_redis: RedisServer
) -> None:
    """A run that ends while Redis is down frees its thread as soon as Redis is back."""
    server = make_server(redis_url=own_redis.url, run_claim_ttl_seconds=30)
    upstream.enqueue(Reply(token_count=100, delay=0.03))
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        async with client.stream("POST", "/stream", json=turn("long")) as resp:
            events = frames(resp)
            await anext(events)
            own_redis.stop()
            rest = [f async for f in events]
        assert rest[-1].event == "error"
        await asyncio.sleep(0.5)  # the run ends and fails to release its claims meanwhile
        own_redis.start()
        after = await client.post("/generate", json=turn("next"))
    assert after.status_code == 200, after.text


async def test_next_message_on_the_final_frame_is_never_busy(
    make_server: ServerFactory, upstream: OpenAIStandIn, redis_db: str
) -> None:
    """A client that sends its next turn as soon as it reads `final` is not refused."""
    server = make_server(redis_url=redis_db)
    upstream.default = Reply(token_count=3)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        outcomes = [(await stream(client, turn(f"q{i}"))).status for i in range(40)]
    assert outcomes == [200] * 40
