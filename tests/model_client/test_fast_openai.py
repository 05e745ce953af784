"""FastChatOpenAI streams what ChatOpenAI streams, over the same wire, and fails the same way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI, StreamChunkTimeoutError

from bench.openai_standin import OpenAIStandIn, Reply
from model_client.transport import AsyncioTransport
from tests.support.chat_models import CHUNK_HEAD, model_pair, raw_sse_server


@pytest.fixture(params=["httpx", "asyncio-transport"])
async def http(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """Both kinds of pool the server may hand the models."""
    transport = AsyncioTransport() if request.param == "asyncio-transport" else None
    async with httpx.AsyncClient(timeout=5, transport=transport) as client:
        yield client


def dumped(chunks: list[Any]) -> list[dict[str, Any]]:
    out = []
    for chunk in chunks:
        data = chunk.model_dump()
        data.pop("id")  # a fresh run id per call
        out.append(data)
    return out


async def collect(model: ChatOpenAI) -> list[Any]:
    return [chunk async for chunk in model.astream([HumanMessage("hi")])]


@pytest.mark.parametrize(
    "reply",
    [
        Reply(tokens=["Once", " upon", "", " a", " time"]),
        Reply(token_count=3, finish_reason="length"),
    ],
)
async def test_stream_when_plain_reply_then_chunks_equal_chat_openai(
    upstream: OpenAIStandIn, http: httpx.AsyncClient, reply: Reply
) -> None:
    """Every chunk (content, usage, finish reason, metadata) equals ChatOpenAI's."""
    reference, fast = model_pair(upstream.base_url, http)
    upstream.enqueue(reply, reply)
    expected = dumped(await collect(reference))
    assert dumped(await collect(fast)) == expected
    assert any(c["usage_metadata"] for c in expected)


async def test_ainvoke_when_streaming_then_message_equals_chat_openai(
    upstream: OpenAIStandIn, http: httpx.AsyncClient
) -> None:
    """The aggregated message of ainvoke is ChatOpenAI's, usage and finish reason included."""
    reference, fast = model_pair(upstream.base_url, http)
    upstream.enqueue(Reply(token_count=5), Reply(token_count=5))
    expected = (await reference.ainvoke("hi")).model_dump()
    got = (await fast.ainvoke("hi")).model_dump()
    expected.pop("id")
    got.pop("id")
    assert got == expected
    assert got["response_metadata"]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("replies", "error"),
    [
        ([Reply(status=401)], openai.AuthenticationError),
        ([Reply(status=429)] * 3, openai.RateLimitError),
        ([Reply(status=400, error_message="bad")], openai.BadRequestError),
        ([Reply(token_count=10, drop_after=3)], openai.APIConnectionError),
    ],
)
async def test_errors_when_upstream_fails_then_same_exception_and_retries(
    upstream: OpenAIStandIn,
    http: httpx.AsyncClient,
    replies: list[Reply],
    error: type[Exception],
) -> None:
    """HTTP errors, retries and a stream cut mid-way raise what ChatOpenAI raises."""
    raised: list[type[BaseException]] = []
    for model in model_pair(upstream.base_url, http):
        upstream.reset()
        upstream.enqueue(*replies)
        with pytest.raises(error) as caught:
            await model.ainvoke("hi")
        raised.append(type(caught.value))
        assert len(upstream.seen) == len(replies)  # the same number of attempts
    assert raised[0] is raised[1]


async def test_retry_when_first_attempt_fails_then_second_streams(
    upstream: OpenAIStandIn, http: httpx.AsyncClient
) -> None:
    """A 500 is retried by the SDK and the retry's reply is streamed."""
    _, fast = model_pair(upstream.base_url, http)
    upstream.enqueue(Reply(status=500), Reply(token_count=2))
    reply = await fast.ainvoke("hi")
    assert reply.content == "Once upon "
    assert len(upstream.seen) == 2


async def test_chunk_timeout_when_upstream_stalls_then_stream_chunk_timeout_error(
    upstream: OpenAIStandIn, http: httpx.AsyncClient
) -> None:
    """A gap longer than stream_chunk_timeout raises StreamChunkTimeoutError; slow is fine."""
    _, fast = model_pair(upstream.base_url, http, stream_chunk_timeout=0.2)
    upstream.enqueue(Reply(token_count=3, delay=0.1), Reply(token_count=3, first_delay=0.5))
    assert (await fast.ainvoke("hi")).content == "Once upon a "
    with pytest.raises(StreamChunkTimeoutError):
        await fast.ainvoke("hi")


async def test_chunk_timeout_when_caller_is_slow_between_chunks_then_no_timeout(
    upstream: OpenAIStandIn, http: httpx.AsyncClient
) -> None:
    """Time the caller spends between chunks does not count against stream_chunk_timeout."""
    _, fast = model_pair(upstream.base_url, http, stream_chunk_timeout=0.2)
    upstream.enqueue(Reply(token_count=3))
    texts = []
    async for chunk in fast.astream("hi"):
        texts.append(chunk.content)
        await asyncio.sleep(0.3)
    assert "".join(texts) == "Once upon a "


async def test_stream_when_caller_stops_early_then_upstream_is_closed(
    upstream: OpenAIStandIn, http: httpx.AsyncClient
) -> None:
    """Leaving the stream early closes the upstream response."""
    _, fast = model_pair(upstream.base_url, http)
    upstream.enqueue(Reply(token_count=50, delay=0.01))
    async for chunk in fast.astream("hi"):
        if chunk.content:
            break
    await asyncio.sleep(0.3)
    assert upstream.seen[-1].closed_by_client


# --- Chunks the stand-in does not send: a raw SSE server scripts them ----------------------


TOOL_STREAM = (
    b"data: {" + CHUNK_HEAD + b',"choices":[{"index":0,"delta":{"role":"assistant","content":null,'
    b'"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"add",'
    b'"arguments":""}}]},"finish_reason":null}]}\r\n\r\n'
    b": keep-alive comment\r\n\r\n"
    b"data: {" + CHUNK_HEAD + b',"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
    b'"function":{"arguments":"{\\"a\\": 1}"}}]},"finish_reason":null}]}\n\n'
    b"data: {" + CHUNK_HEAD + b',"choices":[{"index":0,"delta":{},"logprobs":{"content":[]},'
    b'"finish_reason":"tool_calls"}]}\n\n'
    b"data: [DONE]\n\n"
)
ERROR_STREAM = (
    b"data: {"
    + CHUNK_HEAD
    + b',"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}'
    b'\n\ndata: {"error":{"message":"the model overloaded","type":"server_error"}}\n\n'
)


async def test_stream_when_tool_call_deltas_and_crlf_then_chunks_equal_chat_openai(
    http: httpx.AsyncClient,
) -> None:
    """Tool-call deltas, logprobs, comments and CRLF line ends parse as ChatOpenAI's."""
    server, base_url = await raw_sse_server(TOOL_STREAM)
    try:
        reference, fast = model_pair(base_url, http, max_retries=0)
        expected = dumped(await collect(reference))
        got = dumped(await collect(fast))
    finally:
        server.close()
    assert got == expected
    assert any(c["tool_call_chunks"] for c in got)


async def test_stream_when_error_event_mid_stream_then_api_error(http: httpx.AsyncClient) -> None:
    """An {"error": ...} event after some tokens raises openai.APIError with its message."""
    server, base_url = await raw_sse_server(ERROR_STREAM)
    try:
        _, fast = model_pair(base_url, http, max_retries=0)
        with pytest.raises(openai.APIError, match="the model overloaded"):
            await collect(fast)
    finally:
        server.close()
