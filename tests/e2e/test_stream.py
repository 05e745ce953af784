"""POST /stream over a real socket: the seed's contract, frame by frame."""

from __future__ import annotations

import asyncio

import httpx

from bench.openai_standin import OpenAIStandIn, Reply
from tests.e2e.bodies import SEED_STREAM
from tests.support.sse import frames, stream

SEED_BODY = SEED_STREAM


async def test_seed_stream_body_gets_chunks_then_one_final(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """The seed's curl body streams chunk frames in order, then one final frame."""
    upstream.enqueue(Reply(tokens=["Once", " upon", " a", "", " time"]))
    result = await stream(client, SEED_BODY)

    assert result.status == 200
    assert result.headers["content-type"].startswith("text/event-stream")
    assert result.headers["cache-control"] == "no-cache"
    assert result.headers["x-accel-buffering"] == "no"
    assert [f.event for f in result.frames] == ["stream_event"] * 4 + ["final"]
    assert result.chunks == ["Once", " upon", " a", " time"]  # empty deltas are not sent
    assert all(f.data["type"] == "chunk" for f in result.frames[:-1])
    assert [f.id for f in result.frames] == ["1", "2", "3", "4", "5"]


async def test_final_text_is_the_chunks_and_metadata_is_complete(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """final.text is exactly the concatenated chunks; metadata names the turn and its costs."""
    result = await stream(client, SEED_BODY)

    final = result.final
    assert final["text"] == "".join(result.chunks) == "".join(Reply().words())
    assert final["attachments"] == []
    meta = final["metadata"]
    assert meta["requestId"] == "req-001"
    assert meta["threadId"] == "thread-001"
    assert meta["userId"] == "user-001"
    assert meta["agentId"] == "agent-001"
    assert meta["graphType"] == "streaming-chat::1.0.0"
    assert meta["model"] == "gpt-4o-mini"
    assert meta["provider"] == "openai"
    assert meta["finishReason"] == "stop"
    usage = upstream.seen[-1]
    assert meta["usage"]["outputTokens"] == 12
    assert meta["usage"]["totalTokens"] == meta["usage"]["inputTokens"] + 12
    assert usage.body["stream_options"] == {"include_usage": True}
    assert 0 < meta["timings"]["ttftMs"] <= meta["timings"]["totalMs"]


async def test_chunks_reach_the_client_before_the_reply_ends(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """The first chunk is on the client's socket while the upstream is still sending."""
    upstream.enqueue(Reply(token_count=6, delay=0.15))
    async with client.stream("POST", "/stream", json=SEED_BODY) as response:
        async for frame in frames(response):
            assert frame.event == "stream_event"
            seen = upstream.seen[-1]
            assert not seen.finished
            assert seen.tokens_sent < 6
            break


async def test_ids_are_generated_when_absent(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """Without requestId and threadId the server makes both up and reports them."""
    body = {"graphType": "streaming-chat", "message": {"content": "hi"}}
    result = await stream(client, body)
    meta = result.final["metadata"]
    assert len(meta["requestId"]) == 32
    assert len(meta["threadId"]) == 32
    assert meta["userId"] == "anonymous"


async def test_concurrent_streams_stay_separate(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """Ten streams at once each get their own complete reply."""
    upstream.default = Reply(token_count=8, delay=0.01)
    bodies = [
        {**SEED_BODY, "requestId": f"r{i}", "threadId": f"t{i}", "userId": "u"} for i in range(10)
    ]
    results = await asyncio.gather(*(stream(client, b) for b in bodies))
    for i, result in enumerate(results):
        assert result.final["metadata"]["threadId"] == f"t{i}"
        assert len(result.chunks) == 8
