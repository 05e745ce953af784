"""Interrupts over a real socket: a turn that stops for approval, and the turn that answers it,
on SQLite and on Redis memory."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bench.openai_standin import OpenAIStandIn, Reply, ToolCall
from tests.conftest import ServerFactory
from tests.support.registries import agent_registry
from tests.support.sse import Stream, stream

NOTE = {"title": "Demo day", "text": "The demo is on Friday"}


def _body(thread: str, **extra: Any) -> dict[str, Any]:
    return {"threadId": thread, "userId": "u-1", "graphType": "tool-agent", **extra}


def _steps(result: Stream, kind: str) -> list[dict[str, Any]]:
    return [
        f.data["step"]
        for f in result.frames
        if f.event == "stream_event" and f.data["type"] == kind
    ]


@pytest.fixture(params=["sqlite", "redis"])
def memory(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for thread memory in SQLite or in a real Redis."""
    if request.param == "redis":
        return {"redis_url": request.getfixturevalue("redis_db")}
    return {}


async def test_approve_saves_the_note_and_returns_it_as_an_attachment(
    make_server: ServerFactory, upstream: OpenAIStandIn, memory: dict[str, Any]
) -> None:
    """save_note stops the turn (finishReason interrupted, metadata.interrupt); a message is
    then refused with 409 interrupt_pending; resume "approve" saves it; resuming again is 409."""
    upstream.enqueue(
        Reply(tokens=["Saving."], tool_calls=[ToolCall("save_note", NOTE, id="n1")]),
        Reply(tokens=["Saved ", "it."]),
    )
    server = make_server(registry=agent_registry(), **memory)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        first = await stream(client, _body("n", message={"content": "Note the demo day"}))
        refused = await client.post("/generate", json=_body("n", message={"content": "And?"}))
        waiting = (await client.get("/threads/n/messages", params={"userId": "u-1"})).json()
        resumed = await stream(client, _body("n", resume="approve"))
        again = await client.post("/generate", json=_body("n", resume="approve"))
        history = (await client.get("/threads/n/messages", params={"userId": "u-1"})).json()

    meta = first.final["metadata"]
    assert meta["finishReason"] == "interrupted"
    assert meta["interrupt"]["value"]["note"] == NOTE
    assert meta["interrupt"]["id"]
    assert meta["interrupt"]["stepId"] == "n1"  # the save_note step that asked
    assert waiting["pendingInterrupt"] == {
        "id": meta["interrupt"]["id"],
        "value": meta["interrupt"]["value"],
    }
    assert first.final["text"] == "Saving."
    assert [s["name"] for s in _steps(first, "step_started")] == ["save_note"]
    assert _steps(first, "step_finished") == []

    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "interrupt_pending"
    assert "resume" in error["message"]

    (finished,) = _steps(resumed, "step_finished")
    assert (finished["id"], finished["status"]) == ("n1", "success")
    assert resumed.final["attachments"] == [{"type": "note", **NOTE}]
    assert resumed.final["text"] == "Saved it."
    assert resumed.final["metadata"]["finishReason"] == "stop"

    assert again.status_code == 409
    assert again.json()["error"]["code"] == "no_pending_interrupt"
    roles = [m["role"] for m in history["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"]
    assert "pendingInterrupt" not in history
    assert history["messages"][2]["attachments"] == [{"type": "note", **NOTE}]


async def test_decline_tells_the_model_and_saves_nothing(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """resume "decline": the tool says the note was not saved, and the model hears it."""
    upstream.enqueue(
        Reply(tokens=[], tool_calls=[ToolCall("save_note", NOTE, id="n2")]),
        Reply(tokens=["Understood."]),
    )
    server = make_server(registry=agent_registry())
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        await stream(client, _body("d", message={"content": "Note it"}))
        resumed = await stream(client, _body("d", resume={"approved": False}))

    (finished,) = _steps(resumed, "step_finished")
    assert "declined" in finished["output"]
    assert resumed.final["attachments"] == []
    assert "declined" in upstream.seen[-1].body["messages"][-1]["content"]


async def test_offline_agent_asks_before_saving_a_note(make_server: ServerFactory) -> None:
    """Without an API key, "remember ..." calls save_note and waits for approval."""
    server = make_server(registry=agent_registry(), openai_api_key=None, offline_token_delay_ms=0)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        first = await stream(client, _body("o", message={"content": "Remember the demo"}))
        resumed = await stream(client, _body("o", resume="approve"))

    assert first.final["metadata"]["finishReason"] == "interrupted"
    assert resumed.final["attachments"][0]["type"] == "note"


@pytest.mark.parametrize(
    ("extra", "status", "code"),
    [
        ({}, 422, "validation_error"),  # neither message nor resume
        ({"message": {"content": "hi"}, "resume": "approve"}, 422, "validation_error"),
        ({"resume": "approve"}, 409, "no_pending_interrupt"),  # nothing pending
    ],
)
async def test_message_and_resume_refusals(
    make_server: ServerFactory, extra: dict[str, Any], status: int, code: str
) -> None:
    """Neither or both of message and resume: 422; resume with nothing pending: 409."""
    server = make_server(registry=agent_registry())
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        response = await client.post("/stream", json=_body("r", **extra))
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_graph_types_says_which_versions_interrupt(make_server: ServerFactory) -> None:
    """tool-agent can interrupt; streaming-chat cannot."""
    server = make_server(registry=agent_registry())
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        graphs = (await client.get("/graph-types")).json()["graphs"]
    flags = {v["ref"]: v["interrupts"] for g in graphs for v in g["versions"]}
    assert flags["tool-agent::1.0.0"] is True
    assert flags["streaming-chat::1.0.0"] is False
