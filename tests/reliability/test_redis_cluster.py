"""Replicas on a real Redis Cluster: threads on every shard through both APIs, readiness that
follows the cluster's state, and a master failed over while runs stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from langgraph_sdk import get_client

from bench.openai_standin import OpenAIStandIn, Reply
from bench.redis_cluster import RedisCluster
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.langgraph_api.support import TIMEOUT, said
from tests.support.registries import agent_registry
from tests.support.sse import frames

PREFIX = "agent"  # the server's default REDIS_KEY_PREFIX


def _offline(redis_url: str) -> dict[str, Any]:
    return {
        "registry": agent_registry(),
        "openai_api_key": None,
        "offline_token_delay_ms": 0,
        "redis_url": redis_url,
    }


def _master_of(cluster: RedisCluster, thread_id: str) -> int:
    """The port of the master that holds the thread's keys."""
    client = redis.RedisCluster(host="127.0.0.1", port=cluster.masters_ports()[0])
    try:
        node = client.get_node_from_key(f"{{{PREFIX}:t:{thread_id}}}:data")
        return int(node.port)
    finally:
        client.close()


@pytest.fixture
def own_cluster() -> Iterator[RedisCluster]:
    """Three masters of the test's own, which it may break."""
    cluster = RedisCluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def replicated_cluster() -> Iterator[RedisCluster]:
    """Three masters with a replica each, of the test's own, which it may fail over."""
    cluster = RedisCluster(replicas_per_master=1)
    cluster.start()
    yield cluster
    cluster.stop()


async def test_two_replicas_on_a_cluster_serve_threads_of_every_shard_through_both_apis(
    make_server: ServerFactory, redis_cluster: RedisCluster, redis_cluster_db: str
) -> None:
    """24 threads, each turn on alternate replicas (chat API), land on all three masters; the
    LangGraph API on either replica finds every one (``POST /threads/search``), and a thread's
    runs made through both replicas are listed whole."""
    a = make_server(**_offline(redis_cluster_db)).url
    b = make_server(**_offline(redis_cluster_db)).url
    threads = [f"c-{i}" for i in range(24)]
    async with httpx.AsyncClient(timeout=20) as http:
        for round_ in (0, 1):
            for i, thread in enumerate(threads):
                url = (a, b)[(i + round_) % 2]
                body = turn(f"hello {round_}", thread=thread, user="u-1")
                answer = await http.post(f"{url}/generate", json=body)
                assert answer.status_code == 200, answer.text
        ready = await http.get(f"{a}/ready")
        messages = (await http.get(f"{b}/threads/c-5/messages", params={"userId": "u-1"})).json()

    assert ready.status_code == 200
    assert len(messages["messages"]) == 4
    assert {_master_of(redis_cluster, t) for t in threads} == set(redis_cluster.masters_ports())

    user = {"X-User-Id": "u-1"}
    async with (
        get_client(url=a, api_key=None, headers=user, timeout=TIMEOUT) as la,
        get_client(url=b, api_key=None, headers=user, timeout=TIMEOUT) as lb,
    ):
        found = {t["thread_id"] for t in await lb.threads.search(limit=100)}
        thread_id = (await la.threads.create())["thread_id"]
        for client in (la, lb, la):
            await client.runs.wait(thread_id, "streaming-chat", input=said("once more"))
        runs = await lb.runs.list(thread_id)
        found_after = {t["thread_id"] for t in await la.threads.search(limit=100)}

    assert found == set(threads)
    assert len(runs) == 3 and {r["status"] for r in runs} == {"success"}
    assert found_after == {*threads, thread_id}


async def test_ready_follows_the_cluster_state(
    make_server: ServerFactory, own_cluster: RedisCluster
) -> None:
    """/ready is 200 on a healthy cluster, 503 naming the cluster's state once a master (with
    no replica) is gone, and turns then get a 503, not a hang."""
    server = make_server(**_offline(own_cluster.url))
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        assert (await http.get("/ready")).status_code == 200
        victim = own_cluster.masters_ports()[-1]
        own_cluster.kill(victim)
        deadline = time.monotonic() + 15
        while (ready := await http.get("/ready")).status_code == 200:
            assert time.monotonic() < deadline, "/ready stayed 200 with a shard gone"
            await asyncio.sleep(0.2)
        turn_answer = await http.post("/generate", json=turn("hi", thread="gone-1"))

    assert ready.status_code == 503
    assert ready.json()["error"]["code"] == "store_unavailable"
    assert turn_answer.status_code == 503


SLOW = Reply(token_count=60, delay=0.05)


async def test_a_master_failed_over_mid_stream_ends_every_run_and_its_threads_go_on(
    make_server: ServerFactory, upstream: OpenAIStandIn, replicated_cluster: RedisCluster
) -> None:
    """Six streams on threads of every shard; the master of two of them is killed mid-stream.
    Every stream ends (final, or an error with a code), none hangs; those on the other shards
    end with their whole reply; after the replica takes over, the server is ready again and
    every thread takes its next turn with its history."""
    server = make_server(redis_url=replicated_cluster.url, upstream_max_retries=0)
    victim = replicated_cluster.masters_ports()[0]
    by_master: dict[bool, list[str]] = {True: [], False: []}
    for i in range(200):
        thread = f"f-{i}"
        group = by_master[_master_of(replicated_cluster, thread) == victim]
        if len(group) < 3:
            group.append(thread)
    on_victim, elsewhere = by_master[True], by_master[False]
    for _ in range(6):
        upstream.enqueue(SLOW)

    async def follow(http: httpx.AsyncClient, thread: str, started: asyncio.Event) -> list[Any]:
        body = turn("tell me", thread=thread, user="u-1")
        async with http.stream("POST", "/stream", json=body) as response:
            assert response.status_code == 200
            seen = []
            async for frame in frames(response):
                seen.append(frame)
                started.set()
            return seen

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        started = [asyncio.Event() for _ in range(6)]
        streams = [
            asyncio.create_task(follow(http, t, e))
            for t, e in zip(on_victim + elsewhere, started, strict=True)
        ]
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started)), 10)
        replicated_cluster.kill(victim)
        ended = await asyncio.wait_for(asyncio.gather(*streams), 40)

        replicated_cluster.wait_ok(replicated_cluster.masters_ports())
        ready = await http.get("/ready")
        for _ in range(6):
            upstream.enqueue(Reply(token_count=3))
        nexts = [
            await http.post("/generate", json=turn("and then", thread=t, user="u-1"))
            for t in on_victim + elsewhere
        ]

    for seen in ended:
        last = seen[-1]
        assert last.event in ("final", "error"), last
        if last.event == "error":
            assert last.data["error"]["code"], last.data
    for seen in ended[3:]:
        assert seen[-1].event == "final"
        assert seen[-1].data["metadata"]["finishReason"] == "stop"
    assert ready.status_code == 200, ready.text  # the server sees the promoted replica
    assert [n.status_code for n in nexts] == [200] * 6
    for request in upstream.seen[-6:]:
        users = [m["content"] for m in request.messages if m["role"] == "user"]
        assert users == ["tell me", "and then"]
