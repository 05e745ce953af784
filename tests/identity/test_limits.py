"""Limits per user: a rate of turns a minute, and runs at once, across two replicas on Redis."""

from __future__ import annotations

import httpx

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.identity.tokens import SECRET, hs256

ALICE = {"Authorization": f"Bearer {hs256('alice')}"}
BOB = {"Authorization": f"Bearer {hs256('bob')}"}


def _msg(thread: str) -> dict[str, object]:
    return {"threadId": thread, "message": {"content": "hi"}}


async def test_rate_limit_is_429_with_retry_after_and_per_user(
    make_server: ServerFactory, upstream: OpenAIStandIn, redis_db: str
) -> None:
    """Past RATE_LIMIT_PER_MINUTE turns (counted on both replicas), 429 rate_limited with
    Retry-After; another user is not affected; the refusal is counted in /metrics."""
    a = make_server(jwt_secret=SECRET, redis_url=redis_db, rate_limit_per_minute=2)
    b = make_server(jwt_secret=SECRET, redis_url=redis_db, rate_limit_per_minute=2)
    async with httpx.AsyncClient(timeout=20) as client:
        one = await client.post(f"{a.url}/generate", json=_msg("r1"), headers=ALICE)
        two = await client.post(f"{b.url}/generate", json=_msg("r2"), headers=ALICE)
        three = await client.post(f"{a.url}/generate", json=_msg("r3"), headers=ALICE)
        bobs = await client.post(f"{b.url}/generate", json=_msg("r4"), headers=BOB)
        metrics = (await client.get(f"{a.url}/metrics", headers=ALICE)).text

    assert (one.status_code, two.status_code, bobs.status_code) == (200, 200, 200)
    assert three.status_code == 429
    assert three.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(three.headers["retry-after"]) <= 60
    assert 'agent_limit_refusals_total{reason="rate"} 1.0' in metrics


async def test_stream_cap_holds_across_replicas_and_frees_when_a_run_ends(
    make_server: ServerFactory, upstream: OpenAIStandIn, redis_db: str
) -> None:
    """MAX_STREAMS_PER_USER=1: a second run of the same user on the other replica is 429
    too_many_streams while the first runs; once it ends, the user may start another."""
    upstream.enqueue(Reply(token_count=200, delay=0.02))
    a = make_server(jwt_secret=SECRET, redis_url=redis_db, max_streams_per_user=1)
    b = make_server(jwt_secret=SECRET, redis_url=redis_db, max_streams_per_user=1)
    async with httpx.AsyncClient(timeout=20) as client:
        started = await client.post(f"{a.url}/start", json=_msg("s1"), headers=ALICE)
        second = await client.post(f"{b.url}/generate", json=_msg("s2"), headers=ALICE)
        bobs = await client.post(f"{b.url}/generate", json=_msg("s3"), headers=BOB)
        await client.post(f"{a.url}/cancel/{started.json()['requestId']}", headers=ALICE)
        after = await client.post(f"{b.url}/generate", json=_msg("s4"), headers=ALICE)

    assert started.status_code == 202
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "too_many_streams"
    assert "retry-after" in second.headers
    assert bobs.status_code == 200
    assert after.status_code == 200, after.text


async def test_limits_in_one_process_without_redis(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """The same limits hold in one process on SQLite."""
    server = make_server(jwt_secret=SECRET, rate_limit_per_minute=1)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        one = await client.post("/generate", json=_msg("l1"), headers=ALICE)
        two = await client.post("/generate", json=_msg("l2"), headers=ALICE)
    assert one.status_code == 200
    assert (two.status_code, two.json()["error"]["code"]) == (429, "rate_limited")
