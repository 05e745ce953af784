"""Cancel, disconnects, duplicate requests and busy threads, over real sockets."""

from __future__ import annotations

import asyncio

import httpx

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.support.sse import frames, stream

SLOW = Reply(token_count=40, delay=0.05)


async def _history(client: httpx.AsyncClient, thread: str = "t-1") -> list[tuple[str, str]]:
    response = await client.get(f"/threads/{thread}/messages", params={"userId": "u-1"})
    assert response.status_code == 200, response.text
    return [(m["role"], m["content"]) for m in response.json()["messages"]]


async def _until(predicate: object, limit: float = 5.0) -> None:
    assert callable(predicate)
    for _ in range(int(limit / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached")


async def test_cancel_ends_the_stream_with_cancelled_and_keeps_the_partial_text(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """POST /cancel/{requestId} stops the run; final says cancelled; the thread keeps the text."""
    upstream.enqueue(SLOW)
    got: list[str] = []
    async with client.stream("POST", "/stream", json=turn("tell me", requestId="r-c")) as resp:
        events = frames(resp)
        async for frame in events:
            got.append(frame.event)
            if len(got) == 3:
                cancelled = await client.post("/cancel/r-c")
                assert cancelled.status_code == 200
                assert cancelled.json() == {"requestId": "r-c", "cancelled": True}
        final = frame.data
    assert got[-1] == "final"
    assert final["metadata"]["finishReason"] == "cancelled"
    assert 3 <= len(got) - 1 < 40
    await _until(lambda: upstream.seen[-1].closed_by_client)
    history = await _history(client)
    assert history == [("user", "tell me"), ("assistant", final["text"])]
    assert final["text"].startswith("Once upon a ")


async def test_cancel_of_an_unknown_or_finished_request_is_404(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """Nothing to cancel is 404 run_not_found."""
    assert (await client.post("/cancel/nope")).json()["error"]["code"] == "run_not_found"
    await stream(client, turn("hi", requestId="done-1"))
    assert (await client.post("/cancel/done-1")).status_code == 404


async def test_client_disconnect_cancels_the_upstream_and_keeps_what_was_seen(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """A client that leaves mid-stream and does not come back within the reconnect grace
    stops the run; the upstream sees its connection close."""
    upstream.enqueue(SLOW)
    server = make_server(reconnect_grace_seconds=0.2)
    client = httpx.AsyncClient(base_url=server.url, timeout=20)
    async with client, client.stream("POST", "/stream", json=turn("hi")) as resp:
        count = 0
        async for _ in frames(resp):
            count += 1
            if count == 3:
                break
        await _until(lambda: upstream.seen[-1].closed_by_client, limit=2)
        assert upstream.seen[-1].tokens_sent < 40
        # The thread is consistent and the next turn works.
        result = await stream(client, turn("again"))
        assert result.final["metadata"]["finishReason"] == "stop"
        roles = [role for role, _ in await _history(client)]
    assert roles == ["user", "assistant", "user", "assistant"]


async def test_on_disconnect_continue_finishes_and_saves_the_answer(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """ON_DISCONNECT=continue lets the run finish after its client leaves."""
    server = make_server(on_disconnect="continue")
    upstream.enqueue(Reply(token_count=10, delay=0.03))
    async with httpx.AsyncClient(base_url=server.url) as client:
        async with client.stream("POST", "/stream", json=turn("hi")) as resp:
            async for _ in frames(resp):
                break
        await _until(lambda: upstream.seen[-1].finished)
        history: list[tuple[str, str]] = []
        for _ in range(250):  # the run saves its answer moments after the upstream ends
            response = await client.get("/threads/t-1/messages", params={"userId": "u-1"})
            if response.status_code == 200 and len(response.json()["messages"]) == 2:
                history = [(m["role"], m["content"]) for m in response.json()["messages"]]
                break
            await asyncio.sleep(0.02)
    assert history == [("user", "hi"), ("assistant", "".join(Reply(token_count=10).words()))]


async def test_duplicate_request_id_in_flight_is_409(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """A retry of a requestId still running is refused, so a turn never runs twice."""
    upstream.enqueue(SLOW)
    async with client.stream("POST", "/stream", json=turn("hi", requestId="dup")) as resp:
        async for _ in frames(resp):
            again = await client.post("/stream", json=turn("hi", requestId="dup", thread="t-2"))
            assert again.status_code == 409
            assert again.json()["error"]["code"] == "duplicate_request"
            break
    assert len(upstream.seen) == 1


async def test_second_request_on_a_busy_thread_is_409(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """By default a thread answers one request at a time; the second gets thread_busy."""
    upstream.enqueue(SLOW)
    async with client.stream("POST", "/stream", json=turn("one")) as resp:
        async for _ in frames(resp):
            busy = await client.post("/generate", json=turn("two"))
            assert busy.status_code == 409
            assert busy.json()["error"]["code"] == "thread_busy"
            break


async def test_enqueue_waits_its_turn_and_history_never_interleaves(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """MULTITASK=enqueue runs concurrent turns on one thread one after the other."""
    server = make_server(multitask="enqueue")
    upstream.default = Reply(token_count=5, delay=0.02)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        results = await asyncio.gather(
            *(client.post("/generate", json=turn(f"q{i}")) for i in range(4))
        )
        assert [r.status_code for r in results] == [200] * 4
        roles = [role for role, _ in await _history(client)]
    assert roles == ["user", "assistant"] * 4
