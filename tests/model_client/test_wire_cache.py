"""The request's messages: converted once while unchanged, bounded, and sent as ChatOpenAI does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from bench.openai_standin import OpenAIStandIn, Reply
from model_client.fast_openai import FastChatOpenAI
from model_client.wire_cache import MessageWireCache, shared_cache
from tests.support.chat_models import model_pair


def _history(turns: int) -> list[BaseMessage]:
    out: list[BaseMessage] = [SystemMessage("be brief", id="s")]
    for n in range(turns):
        out.append(HumanMessage(f"question {n}", id=f"h{n}"))
        out.append(
            AIMessage(
                "",
                id=f"a{n}",
                tool_calls=[{"name": "clock", "args": {"zone": "UTC"}, "id": f"call{n}"}],
            )
        )
        out.append(ToolMessage(f"12:0{n}", tool_call_id=f"call{n}", id=f"t{n}"))
        out.append(AIMessage(f"it is 12:0{n}", id=f"r{n}"))
    return out


def _convert(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    return [{"role": m.type, "content": m.content} for m in messages]


@pytest.fixture(autouse=True)
def empty_shared_cache() -> None:
    """Each test starts from an empty process cache."""
    shared_cache().clear()


def test_cache_when_same_history_again_then_every_message_hits() -> None:
    """A second call with an equal history (new objects, as a checkpoint read gives) converts
    nothing."""
    cache = MessageWireCache()
    first = cache.convert("m", _history(3), _convert)
    calls: list[int] = []

    def counting(messages: list[BaseMessage]) -> list[dict[str, Any]]:
        calls.append(len(messages))
        return _convert(messages)

    again = cache.convert("m", [*_history(3), HumanMessage("new", id="n")], counting)

    assert again[:-1] == first and again[-1] == {"role": "human", "content": "new"}
    assert calls == [1]
    assert (cache.hits, cache.misses) == (13, 14)


def test_cache_when_message_edited_under_same_id_then_converted_again() -> None:
    """An edit (same id, other content) misses, also when made in place after caching."""
    cache = MessageWireCache()
    message = HumanMessage("before", id="h")
    cache.convert("m", [message], _convert)

    message.content = "changed in place"
    in_place = cache.convert("m", [message], _convert)
    edited = cache.convert("m", [HumanMessage("edited", id="h")], _convert)

    assert in_place == [{"role": "human", "content": "changed in place"}]
    assert edited == [{"role": "human", "content": "edited"}]
    assert cache.hits == 0


def test_cache_when_other_model_then_not_shared() -> None:
    """Entries are per model: a model's conversion (o-series roles) is not another's."""
    cache = MessageWireCache()
    cache.convert("a", _history(1), _convert)

    cache.convert("b", _history(1), _convert)

    assert cache.hits == 0 and len(cache) == 10


def test_cache_when_more_messages_than_bound_then_oldest_evicted() -> None:
    """The cache holds at most max_entries messages, dropping the least recently used."""
    cache = MessageWireCache(max_entries=5)
    messages = [HumanMessage(str(n), id=str(n)) for n in range(8)]
    cache.convert("m", messages, _convert)
    assert len(cache) == 5

    cache.convert("m", messages[3:], _convert)
    assert cache.hits == 5
    cache.convert("m", messages[:1], _convert)
    assert (cache.hits, len(cache)) == (5, 5)


def test_cache_when_message_without_id_then_never_kept() -> None:
    """A message without an id cannot be told apart from the next one: not cached."""
    cache = MessageWireCache()
    cache.convert("m", [HumanMessage("x")], _convert)
    assert len(cache) == 0


@pytest.fixture
async def captured() -> AsyncIterator[tuple[httpx.AsyncClient, list[bytes]]]:
    """An HTTP client that keeps the body of every request it sends."""
    bodies: list[bytes] = []

    async def keep(request: httpx.Request) -> None:
        bodies.append(request.content)

    async with httpx.AsyncClient(timeout=5, event_hooks={"request": [keep]}) as client:
        yield client, bodies


async def test_fast_client_when_long_history_then_sends_chat_openais_body(
    upstream: OpenAIStandIn, captured: tuple[httpx.AsyncClient, list[bytes]]
) -> None:
    """The body FastChatOpenAI sends (from the cache, through extra_body) is ChatOpenAI's, and
    its second call converts only the new message."""
    http, bodies = captured
    reference, fast = model_pair(upstream.base_url, http, extra_body={"top_k": 3})
    upstream.enqueue(*[Reply(token_count=2)] * 3)
    history = _history(5)

    await reference.ainvoke(history)
    await fast.ainvoke(history)
    before = shared_cache().hits
    await fast.ainvoke([*_history(5), HumanMessage("next", id="next")])

    stock, ours, later = (orjson.loads(b) for b in bodies)
    assert ours == stock
    assert ours["top_k"] == 3 and len(ours["messages"]) == 21
    assert later["messages"][:-1] == stock["messages"]
    assert shared_cache().hits - before == 21


async def test_fast_client_when_reuse_off_then_no_cache_and_same_body(
    upstream: OpenAIStandIn, captured: tuple[httpx.AsyncClient, list[bytes]]
) -> None:
    """reuse_message_wire=False is ChatOpenAI's own payload path: the cache stays empty."""
    http, bodies = captured
    reference, _ = model_pair(upstream.base_url, http)
    fast = FastChatOpenAI(
        model="gpt-4o-mini",
        streaming=True,
        stream_usage=True,
        api_key="test-key",
        base_url=upstream.base_url,
        http_async_client=http,
        reuse_message_wire=False,
    )
    upstream.enqueue(Reply(token_count=2), Reply(token_count=2))

    await reference.ainvoke(_history(2))
    await fast.ainvoke(_history(2))

    assert len(shared_cache()) == 0
    stock, ours = (orjson.loads(b) for b in bodies)
    assert ours == stock
