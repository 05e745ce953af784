"""Thread endpoints and per-user threads: another user's thread is a 404."""

from __future__ import annotations

import httpx

from bench.openai_standin import OpenAIStandIn, Reply
from tests.e2e.bodies import turn


async def test_messages_lists_the_conversation_oldest_first(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """GET /threads/{id}/messages returns user and assistant messages in order."""
    upstream.enqueue(Reply(tokens=["A1"]), Reply(tokens=["A2"]))
    await client.post("/generate", json=turn("Q1"))
    await client.post("/generate", json=turn("Q2"))
    body = (await client.get("/threads/t-1/messages", params={"userId": "u-1"})).json()
    assert body["threadId"] == "t-1"
    assert [(m["role"], m["content"]) for m in body["messages"]] == [
        ("user", "Q1"), ("assistant", "A1"), ("user", "Q2"), ("assistant", "A2"),
    ]  # fmt: skip


async def test_another_user_gets_404_everywhere(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """A thread id owned by someone else looks exactly like one that does not exist."""
    await client.post("/generate", json=turn("mine", user="alice"))
    responses = [
        await client.post("/stream", json=turn("x", user="mallory")),
        await client.post("/generate", json=turn("x", user="mallory")),
        await client.get("/threads/t-1/messages", params={"userId": "mallory"}),
        await client.delete("/threads/t-1", params={"userId": "mallory"}),
    ]
    unknown = await client.get("/threads/never/messages", params={"userId": "mallory"})
    for response in [*responses, unknown]:
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "thread_not_found"
    assert len(upstream.seen) == 1
    assert "mine" not in str([r.json() for r in responses])


async def test_delete_removes_the_thread(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """DELETE /threads/{id} removes every checkpoint; the id then starts afresh."""
    await client.post("/generate", json=turn("forget me"))
    deleted = await client.delete("/threads/t-1", params={"userId": "u-1"})
    assert deleted.status_code == 204
    assert (await client.get("/threads/t-1/messages", params={"userId": "u-1"})).status_code == 404
    await client.post("/generate", json=turn("fresh"))
    assert upstream.seen[-1].messages == [{"role": "user", "content": "fresh"}]


async def test_path_like_thread_ids_are_refused(client: httpx.AsyncClient) -> None:
    """Thread ids outside the safe alphabet are a 422, never a lookup."""
    response = await client.get("/threads/..%2Fetc/messages", params={"userId": "u"})
    assert response.status_code in (404, 422)
    assert response.json()["error"]["code"] in ("validation_error", "not_found")
