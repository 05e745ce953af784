"""Runs that outlive their connection: rejoin with Last-Event-ID, POST /start, the reconnect
grace, and who may rejoin; in one process (SQLite) and across two servers on one Redis."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.support.sse import Frame, frames

SLOW = Reply(token_count=30, delay=0.05)


async def _read(client: httpx.AsyncClient, method: str, url: str, **kw: Any) -> list[Frame]:
    async with client.stream(method, url, **kw) as response:
        assert response.status_code == 200, await response.aread()
        return [frame async for frame in frames(response)]


async def _first(client: httpx.AsyncClient, body: dict[str, Any], count: int) -> list[Frame]:
    """POST /stream, read ``count`` frames, then drop the connection."""
    seen: list[Frame] = []
    async with client.stream("POST", "/stream", json=body) as response:
        async for frame in frames(response):
            seen.append(frame)
            if len(seen) == count:
                break
    return seen


def _chunks(seen: list[Frame]) -> list[str]:
    return [f.data["content"] for f in seen if f.event == "stream_event"]


def _final(seen: list[Frame]) -> dict[str, Any]:
    (final,) = [f.data for f in seen if f.event == "final"]
    return final


@pytest.fixture(params=["sqlite", "redis"])
def memory(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "redis":
        return {"redis_url": request.getfixturevalue("redis_db")}
    return {}


async def test_rejoin_after_a_drop_resumes_with_no_gap_and_no_duplicate(
    make_server: ServerFactory, upstream: OpenAIStandIn, memory: dict[str, Any]
) -> None:
    """Drop after 5 frames, rejoin with Last-Event-ID: the rest, in order, once each, and
    final.text is every chunk of both connections."""
    upstream.enqueue(SLOW)
    server = make_server(**memory)
    body = turn("story", requestId="rj-1", user="alice")
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        before = await _first(client, body, 5)
        last = before[-1].id
        after = await _read(
            client,
            "GET",
            "/stream/rj-1",
            params={"userId": "alice"},
            headers={"Last-Event-ID": str(last)},
        )
    ids = [int(f.id or 0) for f in before + after]
    assert ids == list(range(1, len(ids) + 1))
    final = _final(after)
    assert final["text"] == "".join(_chunks(before) + _chunks(after))
    assert final["metadata"]["finishReason"] == "stop"
    assert upstream.seen[-1].closed_by_client is False


async def test_rejoin_a_finished_run_replays_it(
    make_server: ServerFactory, upstream: OpenAIStandIn, memory: dict[str, Any]
) -> None:
    """A finished run still in the log replays from any position (query parameter form)."""
    upstream.enqueue(Reply(tokens=["a ", "b ", "c"]))
    server = make_server(**memory)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        whole = await _read(client, "POST", "/stream", json=turn("x", requestId="done-1"))
        again = await _read(client, "GET", "/stream/done-1", params={"userId": "u-1"})
        tail = await _read(
            client, "GET", "/stream/done-1", params={"userId": "u-1", "lastEventId": "2"}
        )
    assert [(f.id, f.event, f.data) for f in again] == [(f.id, f.event, f.data) for f in whole]
    assert [f.id for f in tail] == ["3", "4"]
    assert _final(tail)["text"] == "a b c"


async def test_start_answers_202_and_the_stream_url_streams_the_run(
    make_server: ServerFactory, upstream: OpenAIStandIn, memory: dict[str, Any]
) -> None:
    """POST /start takes the /stream body; streamUrl is what a plain EventSource needs."""
    upstream.enqueue(Reply(tokens=["Hello ", "there."], delay=0.05))
    server = make_server(**memory)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        started = await client.post("/start", json=turn("hi", user="bob", thread="st"))
        assert started.status_code == 202
        body = started.json()
        assert body["threadId"] == "st"
        assert body["streamUrl"] == f"/stream/{body['requestId']}?userId=bob"
        seen = await _read(client, "GET", body["streamUrl"])
    assert _final(seen)["text"] == "Hello there." == "".join(_chunks(seen))
    assert seen[0].id == "1"


async def test_only_the_owner_may_rejoin_and_bad_ids_are_refused(
    make_server: ServerFactory, upstream: OpenAIStandIn, memory: dict[str, Any]
) -> None:
    """Another user, an unknown run: 404 run_not_found; a Last-Event-ID that is not ours: 422."""
    server = make_server(**memory)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        await _read(client, "POST", "/stream", json=turn("x", requestId="own-1", user="alice"))
        other = await client.get("/stream/own-1", params={"userId": "mallory"})
        unknown = await client.get("/stream/nope", params={"userId": "alice"})
        bad = await client.get(
            "/stream/own-1", params={"userId": "alice"}, headers={"Last-Event-ID": "1-0"}
        )
    assert (other.status_code, other.json()["error"]["code"]) == (404, "run_not_found")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "run_not_found")
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "validation_error")


async def test_a_run_nobody_rejoins_is_cancelled_after_the_grace(
    make_server: ServerFactory, upstream: OpenAIStandIn, memory: dict[str, Any]
) -> None:
    """Past RECONNECT_GRACE_SECONDS with no client, the run stops (its upstream request closes)
    and a late rejoin gets the cancelled final with what was streamed."""
    upstream.enqueue(Reply(token_count=200, delay=0.02))
    server = make_server(reconnect_grace_seconds=0.3, **memory)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        await _first(client, turn("x", requestId="g-1"), 3)
        for _ in range(100):
            if upstream.seen and upstream.seen[-1].closed_by_client:
                break
            await asyncio.sleep(0.05)
        late = await _read(client, "GET", "/stream/g-1", params={"userId": "u-1"})
    assert upstream.seen[-1].closed_by_client
    final = _final(late)
    assert final["metadata"]["finishReason"] == "cancelled"
    assert final["text"] == "".join(_chunks(late))


async def test_a_client_back_within_the_grace_keeps_the_run(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """A client that comes back before the grace ends gets the whole answer."""
    upstream.enqueue(Reply(token_count=20, delay=0.05))
    server = make_server(reconnect_grace_seconds=1.0)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        await _first(client, turn("x", requestId="k-1"), 2)
        await asyncio.sleep(0.3)
        rest = await _read(client, "GET", "/stream/k-1", params={"userId": "u-1"})
    assert _final(rest)["metadata"]["finishReason"] == "stop"
    assert upstream.seen[-1].finished


async def test_thread_busy_names_the_running_request(
    make_server: ServerFactory, upstream: OpenAIStandIn, memory: dict[str, Any]
) -> None:
    """A 409 thread_busy says which request runs, so the client can rejoin it."""
    upstream.enqueue(SLOW)
    server = make_server(**memory)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        started = await client.post("/start", json=turn("x", requestId="busy-1"))
        assert started.status_code == 202
        busy = await client.post("/generate", json=turn("y"))
        await client.post("/cancel/busy-1")
    error = busy.json()["error"]
    assert (busy.status_code, error["code"]) == (409, "thread_busy")
    assert error["details"] == {"requestId": "busy-1"}
    assert "/stream/busy-1" in error["message"]


async def test_log_expiry_makes_a_finished_run_404(
    make_server: ServerFactory, upstream: OpenAIStandIn, memory: dict[str, Any]
) -> None:
    """RUN_LOG_TTL_SECONDS after a run ends, rejoining it is 404."""
    server = make_server(run_log_ttl_seconds=0.3, **memory)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        await _read(client, "POST", "/stream", json=turn("x", requestId="exp-1"))
        await asyncio.sleep(0.8)
        gone = await client.get("/stream/exp-1", params={"userId": "u-1"})
    assert gone.status_code == 404


async def test_two_servers_on_one_redis_start_on_one_rejoin_on_the_other(
    make_server: ServerFactory, upstream: OpenAIStandIn, shared_redis: str
) -> None:
    """Started on A with POST /start, followed on B mid-run and again after it ended."""
    upstream.enqueue(Reply(token_count=20, delay=0.05))
    a = make_server(redis_url=shared_redis)
    b = make_server(redis_url=shared_redis)
    async with httpx.AsyncClient(timeout=20) as client:
        started = (await client.post(f"{a.url}/start", json=turn("x", user="ann"))).json()
        live = await _read(client, "GET", b.url + started["streamUrl"])
        replay = await _read(
            client, "GET", b.url + started["streamUrl"], headers={"Last-Event-ID": "10"}
        )
    ids = [int(f.id or 0) for f in live]
    assert ids == list(range(1, len(ids) + 1))
    assert _final(live)["text"] == "".join(_chunks(live))
    assert [f.id for f in replay] == [str(i) for i in range(11, len(live) + 1)]
    assert upstream.seen[-1].finished


async def test_asking_again_after_the_last_frame_is_204(
    make_server: ServerFactory, upstream: OpenAIStandIn, memory: dict[str, Any]
) -> None:
    """A client that saw the final frame and reconnects (as EventSource does) gets 204, which
    makes EventSource stop; one id before the end still gets the final frame."""
    upstream.enqueue(Reply(tokens=["a ", "b"]))
    server = make_server(**memory)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        whole = await _read(client, "POST", "/stream", json=turn("x", requestId="end-1"))
        last = whole[-1].id
        again = await client.get(
            "/stream/end-1", params={"userId": "u-1"}, headers={"Last-Event-ID": str(last)}
        )
        before = await _read(
            client, "GET", "/stream/end-1", params={"userId": "u-1", "lastEventId": "2"}
        )
    assert whole[-1].event == "final"
    assert again.status_code == 204
    assert [f.event for f in before] == ["final"]


async def test_a_run_read_by_several_clients_is_counted_once(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """/metrics counts a run's turn and tokens once, however many clients replay it."""
    upstream.enqueue(Reply(tokens=["a ", "b ", "c"]))
    server = make_server()
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        await _read(client, "POST", "/stream", json=turn("x", requestId="m-1"))
        for _ in range(2):
            await _read(client, "GET", "/stream/m-1", params={"userId": "u-1"})
        text = (await client.get("/metrics")).text
    assert 'agent_ttft_seconds_count{graph="streaming-chat::1.1.0"} 1.0' in text
    assert 'agent_tokens_streamed_total{graph="streaming-chat::1.1.0"} 3.0' in text
