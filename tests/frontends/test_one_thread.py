"""One thread, every API: a conversation started with the chat API goes on through useChat and
through AG-UI, and the chat API's thread view and LangGraph's get_state show every turn."""

from __future__ import annotations

import httpx
from langgraph_sdk import get_client

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.frontends.graphs import frontend_registry
from tests.frontends.node_clients import ag_ui, ai_chat
from tests.support.sse import stream

USER = {"X-User-Id": "user-001"}


async def test_a_chat_api_thread_goes_on_in_use_chat_and_ag_ui(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    server = make_server(registry=frontend_registry())
    upstream.enqueue(
        Reply(tokens=["First", " answer."]),
        Reply(tokens=["Second", " answer."]),
        Reply(tokens=["Third", " answer."]),
    )
    body = {"threadId": "shared", "userId": "user-001", "message": {"content": "One"}}
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        first = await stream(client, body)
        assert first.final["text"] == "First answer."

        # The client holds none of the thread's history: the server's memory carries it.
        used = ai_chat("7", server.url, "shared", [{"send": "Two"}], headers=USER)
        assert used["errors"] == []
        assert upstream.seen[-1].messages[-3:] == [
            {"role": "user", "content": "One"},
            {"role": "assistant", "content": "First answer."},
            {"role": "user", "content": "Two"},
        ]
        agent = ag_ui(server.url, "shared", [{"send": "Three"}], headers=USER)
        assert "error" not in agent["runs"][0], agent["runs"][0].get("error")
        assert [m["content"] for m in upstream.seen[-1].messages[-5:]] == [
            "One",
            "First answer.",
            "Two",
            "Second answer.",
            "Three",
        ]
        thread = await client.get("/threads/shared/messages", params={"userId": "user-001"})

    expected = ["One", "First answer.", "Two", "Second answer.", "Three", "Third answer."]
    assert [m["content"] for m in thread.json()["messages"]] == expected
    assert [m["role"] for m in thread.json()["messages"]] == ["user", "assistant"] * 3
    async with get_client(url=server.url, headers=USER) as sdk:
        state = await sdk.threads.get_state("shared")
    assert [m["content"] for m in state["values"]["messages"]] == expected  # type: ignore[index, call-overload]
