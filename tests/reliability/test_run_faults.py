"""Rejoining through the faults a deployment meets: the replica that ran the run is killed,
or Redis restarts while a client follows the run from another replica."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.support.redis_server import RedisServer
from tests.support.server_process import ServerProcess
from tests.support.sse import Frame, frames


async def test_sigkill_of_the_running_replica_gives_run_lost_and_a_usable_thread(
    make_server: ServerFactory, upstream: OpenAIStandIn, redis_db: str, tmp_path: Path
) -> None:
    """The replica running a run dies (SIGKILL): a client following it through another replica
    gets an error frame run_lost once the run's claim expires, never a hang; the thread then
    takes its next turn."""
    upstream.enqueue(Reply(token_count=400, delay=0.05))
    owner = ServerProcess(upstream, tmp_path, REDIS_URL=redis_db, RUN_CLAIM_TTL_SECONDS="2")
    other = make_server(redis_url=redis_db, run_claim_ttl_seconds=2)
    got: list[Frame] = []
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            started = await client.post(f"{owner.url}/start", json=turn("x", thread="k9"))
            assert started.status_code == 202
            url = other.url + started.json()["streamUrl"]
            async with client.stream("GET", url) as response:
                assert response.status_code == 200, await response.aread()
                async for frame in frames(response):
                    got.append(frame)
                    if len(got) == 3:
                        owner.proc.kill()  # SIGKILL: no cleanup, claims left to expire
            upstream.enqueue(Reply(tokens=["Back."]))
            after = await client.post(f"{other.url}/generate", json=turn("again", thread="k9"))
    finally:
        owner.stop()

    assert got[-1].event == "error"
    assert got[-1].data["code"] == "run_lost"
    assert after.status_code == 200, after.text
    assert after.json()["text"] == "Back."


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
