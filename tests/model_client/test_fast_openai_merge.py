"""FastChatOpenAI.ainvoke merges a streamed reply as it arrives: the same message and callbacks as
ChatOpenAI's, without holding every chunk until the reply ends."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk
from langchain_openai import ChatOpenAI

from bench.openai_standin import OpenAIStandIn, Reply
from model_client.merged_reply import MERGE_EVERY
from tests.support.chat_models import CHUNK_HEAD, model_pair, raw_sse_server


class Tokens(AsyncCallbackHandler):
    """Records every on_llm_new_token, and how many earlier chunks are still alive."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.refs: list[weakref.ref[ChatGenerationChunk]] = []
        self.most_alive = 0

    async def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        assert isinstance(chunk, ChatGenerationChunk)
        dump = chunk.model_dump()
        dump["message"]["id"] = _run_free(dump["message"]["id"])
        self.seen.append((token, dump))
        self.refs.append(weakref.ref(chunk))
        if len(self.refs) % 25 == 0:
            gc.collect()
            self.most_alive = max(self.most_alive, sum(r() is not None for r in self.refs))


def _run_free(message_id: str | None) -> str | None:
    """A run id is fresh per call: keep only what kind of id it is."""
    if message_id and message_id.startswith("lc_run-"):
        return "lc_run-*"
    return message_id


async def invoke(model: ChatOpenAI) -> tuple[AIMessage, Tokens]:
    tokens = Tokens()
    message = await model.ainvoke([HumanMessage("hi")], config={"callbacks": [tokens]})
    assert isinstance(message, AIMessage)
    return message, tokens


def dumped(message: AIMessage) -> dict[str, Any]:
    data = message.model_dump()
    data["id"] = _run_free(data["id"])
    return data


@pytest.fixture
async def http() -> Any:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.mark.parametrize(
    "reply",
    [
        Reply(token_count=1),
        Reply(token_count=MERGE_EVERY - 2),
        Reply(token_count=MERGE_EVERY * 3 + 5),
        Reply(token_count=200, finish_reason="length"),
    ],
)
async def test_ainvoke_when_streaming_then_message_and_callbacks_equal_chat_openai(
    upstream: OpenAIStandIn, http: httpx.AsyncClient, reply: Reply
) -> None:
    """Short and long replies: the same message (text, usage, finish reason, model, id kind)
    and the same on_llm_new_token calls, chunk for chunk."""
    reference, fast = model_pair(upstream.base_url, http, max_retries=0)
    upstream.enqueue(reply, reply)
    expected, expected_tokens = await invoke(reference)
    got, got_tokens = await invoke(fast)
    assert dumped(got) == dumped(expected)
    assert got_tokens.seen == expected_tokens.seen
    assert got.usage_metadata and got.response_metadata["finish_reason"] == reply.finish()
    assert got.response_metadata["model_name"]
    assert isinstance(got.id, str) and got.id.startswith("lc_run-")


async def test_ainvoke_when_long_reply_then_earlier_chunks_are_not_kept(
    upstream: OpenAIStandIn, http: httpx.AsyncClient
) -> None:
    """While a 200-token reply streams, at most one batch of its chunks is still alive."""
    reference, fast = model_pair(upstream.base_url, http, max_retries=0)
    upstream.enqueue(Reply(token_count=200), Reply(token_count=200))
    _, kept = await invoke(reference)
    _, merged = await invoke(fast)
    assert kept.most_alive >= 175  # ChatOpenAI holds them all, which this test relies on
    assert merged.most_alive <= MERGE_EVERY + 1


_TEXT = b"data: {" + CHUNK_HEAD + b',"choices":[{"index":0,"delta":{"content":"w "}}]}\n\n'
# Text past a merge, then tool-call deltas: merging stops at the first tool-call chunk.
TEXT_THEN_TOOL_STREAM = (
    b"data: {"
    + CHUNK_HEAD
    + b',"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n\n'
    + _TEXT * (MERGE_EVERY + 7)
    + b"data: {"
    + CHUNK_HEAD
    + b',"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
    b'"id":"call_1","type":"function","function":{"name":"add","arguments":""}}]}}]}\n\n'
    b"data: {" + CHUNK_HEAD + b',"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,'
    b'"function":{"arguments":"{\\"a\\": 1}"}}]}}]}\n\n'
    b"data: {"
    + CHUNK_HEAD
    + b',"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\n'
    b"data: {" + CHUNK_HEAD + b',"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":40,'
    b'"total_tokens":43}}\n\n'
    b"data: [DONE]\n\n"
)


async def test_ainvoke_when_text_then_tool_calls_then_message_equals_chat_openai(
    http: httpx.AsyncClient,
) -> None:
    """Text long enough to be merged, then tool-call deltas: the same message and tool call."""
    server, base_url = await raw_sse_server(TEXT_THEN_TOOL_STREAM)
    try:
        reference, fast = model_pair(base_url, http, max_retries=0)
        expected, expected_tokens = await invoke(reference)
        got, got_tokens = await invoke(fast)
    finally:
        server.close()
    assert dumped(got) == dumped(expected)
    assert got_tokens.seen == expected_tokens.seen
    assert got.tool_calls and got.tool_calls[0]["args"] == {"a": 1}
