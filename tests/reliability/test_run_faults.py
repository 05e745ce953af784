"""Rejoining through the faults a deployment meets: Redis restarts while a client follows the
run from another replica. (A replica that dies mid-run: tests/reliability/test_takeover.py.)"""

from __future__ import annotations

import asyncio

import httpx

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.support.redis_server import RedisServer
from tests.support.sse import Frame, frames


async def test_redis_restart_while_following_ends_with_a_clear_error_frame(
    make_server: ServerFactory, upstream: OpenAIStandIn, own_redis: RedisServer
) -> None:
    """Redis goes away while a client follows a run through another replica: the stream ends
    with an error frame naming the store, not a hang; once Redis is back, turns work again."""
    upstream.enqueue(Reply(token_count=200, delay=0.05))
    a = make_server(redis_url=own_redis.url)
    b = make_server(redis_url=own_redis.url)
    got: list[Frame] = []
    async with httpx.AsyncClient(timeout=30) as client:
        started = (await client.post(f"{a.url}/start", json=turn("x", thread="rr"))).json()
        async with client.stream("GET", b.url + started["streamUrl"]) as response:
            async for frame in frames(response):
                got.append(frame)
                if len(got) == 3:
                    own_redis.stop()
        own_redis.start()
        await client.post(f"{a.url}/cancel/{started['requestId']}")
        upstream.enqueue(Reply(tokens=["Fine."]))
        for _ in range(40):  # the claims of the run are released once Redis answers
            after = await client.post(f"{b.url}/generate", json=turn("next", thread="rr2"))
            if after.status_code == 200:
                break
            await asyncio.sleep(0.25)

    assert got[-1].event == "error"
    assert got[-1].data["code"] == "store_unavailable"
    assert after.status_code == 200, after.text
