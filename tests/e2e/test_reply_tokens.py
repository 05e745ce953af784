"""Which model calls of a graph stream to the client: the same rules as LangGraph's "messages".

The server taps the model's token callbacks instead of running ``stream_mode="messages"``; these
tests pin the rules that mode applies, on a graph with three model calls in one turn: one tagged
``nostream``, one inside a subgraph, and the reply itself. Only the reply's tokens may stream.
"""

from __future__ import annotations

from typing import Any

import httpx
from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.constants import TAG_NOSTREAM
from langgraph.graph import END, START, MessagesState, StateGraph

from bench.openai_standin import OpenAIStandIn, Reply
from graphs import ChatModelFactory, Conversation, GraphSettings, GraphVersion, Registry, Version
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.support.registries import chat_registry
from tests.support.sse import stream


def _layered(models: ChatModelFactory) -> StateGraph[Any, Any, Any, Any]:
    llm = models("gpt-4o-mini")

    async def research(state: MessagesState) -> dict[str, list[BaseMessage]]:
        await llm.ainvoke([HumanMessage("inner")])
        return {"messages": []}

    inner = StateGraph(MessagesState)
    inner.add_node("research", research)
    inner.add_edge(START, "research")
    inner.add_edge("research", END)
    subgraph = inner.compile()

    async def reply(state: MessagesState) -> dict[str, list[BaseMessage]]:
        await llm.with_config(tags=[TAG_NOSTREAM]).ainvoke([HumanMessage("hidden")])
        await subgraph.ainvoke({"messages": []})
        return {"messages": [await llm.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("reply", reply)
    graph.add_edge(START, "reply")
    graph.add_edge("reply", END)
    return graph


def _registry() -> Registry:
    registry = chat_registry()
    registry.register(
        GraphVersion(
            "layered",
            Version(1, 0, 0),
            GraphSettings,
            _layered,
            conversation=Conversation(stream_nodes=["reply"]),
        )
    )
    return registry


async def test_only_the_reply_streams_not_nostream_or_subgraph_calls(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """Tokens of a ``nostream`` call and of a subgraph's call reach neither the stream nor final."""
    upstream.enqueue(
        Reply(tokens=["hidden ", "words"]),
        Reply(tokens=["subgraph ", "words"]),
        Reply(tokens=["the ", "reply"]),
    )
    server = make_server(registry=_registry())
    body = turn("hi", graphType="layered::1.0.0", graphSettings={})
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        result = await stream(client, body)

    assert result.chunks == ["the ", "reply"]
    assert result.final["text"] == "the reply"
    assert len(upstream.seen) == 3  # all three calls did run


async def test_a_long_reply_streams_every_token_and_saves_the_same_text(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """150 tokens: every chunk in order, final.text and the saved thread equal their join."""
    words = Reply(token_count=150).words()
    upstream.enqueue(Reply(token_count=150))

    result = await stream(client, turn("hi", thread="long"))

    assert result.chunks == words
    assert result.final["text"] == "".join(words)
    saved = (await client.get("/threads/long/messages", params={"userId": "u-1"})).json()
    assert saved["messages"][-1]["content"] == "".join(words)
