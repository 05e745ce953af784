"""One thread, two APIs: a conversation started with the seed's ``POST /stream`` continues
through LangGraph's Python client, and one started with the client continues through
``POST /stream``."""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import NotFoundError

from tests.e2e.test_stream import SEED_BODY
from tests.langgraph_api.conftest import Offline
from tests.langgraph_api.support import TIMEOUT, kinds, said
from tests.support.sse import stream


async def test_a_seed_thread_continues_through_the_sdk(offline: Offline) -> None:
    """The seed's curl body starts thread-001 for user-001; the client acting for user-001
    (X-User-Id) finds it, reads the turn in its state, and runs the next turn on it; another
    user does not find it."""
    url = offline()
    async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as http:
        seed = await stream(http, SEED_BODY)
    assert seed.status == 200
    seed_reply = seed.final["text"]

    user = {"X-User-Id": "user-001"}
    async with get_client(url=url, api_key=None, headers=user, timeout=TIMEOUT) as lg:
        thread = await lg.threads.get("thread-001")
        state = await lg.threads.get_state("thread-001")
        found = await lg.threads.search()
        output = await lg.runs.wait("thread-001", "streaming-chat", input=said("go on"))
        history = await lg.threads.get_history("thread-001", limit=100)
    async with get_client(
        url=url, api_key=None, headers={"X-User-Id": "someone-else"}, timeout=TIMEOUT
    ) as other:
        with pytest.raises(NotFoundError):
            await other.threads.get("thread-001")
        assert await other.threads.search() == []

    assert thread["status"] == "idle"
    assert thread["metadata"]["graph_id"] == "streaming-chat"
    assert kinds(state["values"]["messages"]) == [
        ("human", SEED_BODY["message"]["content"]),
        ("ai", seed_reply),
    ]
    assert [t["thread_id"] for t in found] == ["thread-001"]
    assert kinds(output["messages"])[:2] == kinds(state["values"]["messages"])
    assert kinds(output["messages"])[2] == ("human", "go on")
    assert "This is turn 2 of this thread" in output["messages"][-1]["content"]
    assert any(h["checkpoint"] == state["checkpoint"] for h in history)


async def test_an_sdk_thread_continues_through_post_stream(offline: Offline) -> None:
    """A thread the client made for user-7 takes the next turn from ``POST /stream`` with
    userId user-7, and the client then reads both turns."""
    url = offline()
    user = {"X-User-Id": "user-7"}
    async with get_client(url=url, api_key=None, headers=user, timeout=TIMEOUT) as lg:
        thread_id = (await lg.threads.create(metadata={"from": "sdk"}))["thread_id"]
        await lg.runs.wait(thread_id, "streaming-chat", input=said("from the sdk"))
        body = {
            "threadId": thread_id,
            "userId": "user-7",
            "graphType": "streaming-chat",
            "message": {"content": "from the seed api"},
        }
        async with httpx.AsyncClient(base_url=url, timeout=TIMEOUT) as http:
            seed = await stream(http, body)
            messages = (
                await http.get(f"/threads/{thread_id}/messages", params={"userId": "user-7"})
            ).json()
        state = await lg.threads.get_state(thread_id)
        thread = await lg.threads.get(thread_id)

    assert seed.status == 200, seed.body
    assert "This is turn 2 of this thread" in seed.final["text"]
    assert [m["content"] for m in state["values"]["messages"] if m["type"] == "human"] == [
        "from the sdk",
        "from the seed api",
    ]
    assert state["values"]["messages"][-1]["content"] == seed.final["text"]
    assert [m["role"] for m in messages["messages"]] == ["user", "assistant"] * 2
    assert thread["metadata"]["from"] == "sdk"
    assert thread["status"] == "idle"
