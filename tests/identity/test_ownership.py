"""With user credentials, every endpoint that touches a thread or a run keeps to its owner:
another user gets 404 (never 403, so ids reveal nothing); streamUrl works without a header."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bench.openai_standin import OpenAIStandIn, Reply, ToolCall
from tests.conftest import ServerFactory
from tests.identity.tokens import SECRET, hs256
from tests.support.registries import agent_registry
from tests.support.sse import frames

ALICE = {"Authorization": f"Bearer {hs256('alice')}"}
BOB = {"Authorization": f"Bearer {hs256('bob')}"}


def _body(thread: str, **extra: Any) -> dict[str, Any]:
    return {"threadId": thread, "graphType": "tool-agent", **extra}


@pytest.fixture(params=["sqlite", "redis"])
def memory(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "redis":
        return {"redis_url": request.getfixturevalue("redis_db")}
    return {}


async def test_another_users_thread_and_run_are_404_on_every_endpoint(
    make_server: ServerFactory, upstream: OpenAIStandIn, memory: dict[str, Any]
) -> None:
    """Bob cannot stream, generate, start, resume, rejoin, cancel, read or delete Alice's."""
    upstream.default = Reply(token_count=40, delay=0.05)
    upstream.enqueue(
        Reply(tokens=[], tool_calls=[ToolCall("save_note", {"title": "t", "text": "x"})])
    )
    server = make_server(registry=agent_registry(), jwt_secret=SECRET, **memory)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        first = await client.post(
            "/generate", json=_body("a1", message={"content": "note"}), headers=ALICE
        )
        assert first.json()["metadata"]["finishReason"] == "interrupted"
        started = await client.post(
            "/start", json=_body("a2", message={"content": "long"}), headers=ALICE
        )
        run = started.json()["requestId"]
        answers = {
            "stream": await client.post(
                "/stream", json=_body("a1", message={"content": "x"}), headers=BOB
            ),
            "generate": await client.post(
                "/generate", json=_body("a1", message={"content": "x"}), headers=BOB
            ),
            "start": await client.post(
                "/start", json=_body("a1", message={"content": "x"}), headers=BOB
            ),
            "resume": await client.post(
                "/generate", json=_body("a1", resume="approve"), headers=BOB
            ),
            "rejoin": await client.get(f"/stream/{run}", headers=BOB),
            "cancel": await client.post(f"/cancel/{run}", headers=BOB),
            "history": await client.get("/threads/a1/messages", headers=BOB),
            "delete": await client.delete("/threads/a1", headers=BOB),
        }
        still_mine = await client.get("/threads/a1/messages", headers=ALICE)
        cancelled = await client.post(f"/cancel/{run}", headers=ALICE)

    refused = {name: (r.status_code, r.json()["error"]["code"]) for name, r in answers.items()}
    assert all(status == 404 for status, _ in refused.values()), refused
    assert still_mine.status_code == 200
    assert "pendingInterrupt" in still_mine.json()
    assert cancelled.status_code == 200


async def test_stream_url_carries_access_for_a_plain_eventsource(
    make_server: ServerFactory, upstream: OpenAIStandIn, memory: dict[str, Any]
) -> None:
    """POST /start's streamUrl streams without an Authorization header; a tampered or
    borrowed access token is refused."""
    upstream.enqueue(Reply(tokens=["Hi ", "there."]))
    server = make_server(jwt_secret=SECRET, **memory)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        started = await client.post("/start", json={"message": {"content": "hi"}}, headers=ALICE)
        url = started.json()["streamUrl"]
        assert "access=" in url
        async with client.stream("GET", url) as response:
            assert response.status_code == 200
            events = [frame.event async for frame in frames(response)]
        tampered = await client.get(url.replace("access=", "access=1"))
        as_bob = await client.get(url.replace("userId=alice", "userId=bob"))
        bare = await client.get(url.split("?")[0])

    assert events[-1] == "final"
    assert tampered.status_code == 401
    assert as_bob.status_code == 401
    assert bare.status_code == 401
