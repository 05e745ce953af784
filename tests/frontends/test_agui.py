"""POST /ag-ui through AG-UI's own client (@ag-ui/client's HttpAgent, whose verifier throws on
an event out of order), over a real socket, against the OpenAI stand-in; and every event, as
sent, against the ag-ui-protocol package's models and its encoder."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest
from ag_ui.core import Event
from ag_ui.encoder import EventEncoder
from pydantic import TypeAdapter

from bench.openai_standin import OpenAIStandIn, Reply, ToolCall
from tests.conftest import ServerFactory
from tests.frontends.graphs import frontend_registry
from tests.frontends.node_clients import ag_ui
from tests.support.live_server import LiveServer

NOTE = {"title": "Demo day", "text": "The demo is on Friday"}
EVENT: TypeAdapter[Any] = TypeAdapter(Event)


@pytest.fixture
def server(make_server: ServerFactory) -> LiveServer:
    return make_server(registry=frontend_registry())


def _types(run: dict[str, Any]) -> list[str]:
    return [e["type"] for e in run["events"] if e["type"] != "TEXT_MESSAGE_CONTENT"]


def _text(run: dict[str, Any]) -> str:
    return "".join(e["delta"] for e in run["events"] if e["type"] == "TEXT_MESSAGE_CONTENT")


def _valid(result: dict[str, Any]) -> None:
    for run in result["runs"]:
        assert "error" not in run, run.get("error")
        for event in run["events"]:
            EVENT.validate_python(event)


def test_a_text_turn(server: LiveServer, upstream: OpenAIStandIn) -> None:
    upstream.enqueue(Reply(tokens=["Hello", " there."]))
    result = ag_ui(server.url, "text", [{"send": "Hi"}])

    _valid(result)
    (run,) = result["runs"]
    assert _types(run) == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert _text(run) == "Hello there."
    finished = run["events"][-1]
    assert finished["outcome"] == {"type": "success"}
    assert finished["threadId"] == "text"
    assert finished["result"]["text"] == "Hello there."
    user, assistant = result["messages"]
    assert (user["role"], user["content"]) == ("user", "Hi")
    assert (assistant["role"], assistant["content"]) == ("assistant", "Hello there.")


def test_tool_turns_parallel_calls_and_a_tool_error(
    server: LiveServer, upstream: OpenAIStandIn
) -> None:
    upstream.enqueue(
        Reply(
            tokens=[],
            tool_calls=[
                ToolCall("calculator", {"expression": "6*7"}, id="c1"),
                ToolCall("calculator", {"expression": "1/0"}, id="c2"),
            ],
        ),
        Reply(tokens=["42, and the other failed."]),
    )
    result = ag_ui(server.url, "tools", [{"send": "Compute"}], path="/ag-ui/tool-agent")

    _valid(result)
    (run,) = result["runs"]
    events = run["events"]
    starts = [e for e in events if e["type"] == "TOOL_CALL_START"]
    assert [(e["toolCallId"], e["toolCallName"]) for e in starts] == [
        ("c1", "calculator"),
        ("c2", "calculator"),
    ]
    assert starts[0]["parentMessageId"] == starts[1]["parentMessageId"]
    results = {e["toolCallId"]: e["content"] for e in events if e["type"] == "TOOL_CALL_RESULT"}
    assert results["c1"] == "42"
    assert "Error" in results["c2"] or "error" in results["c2"]
    assert _text(run) == "42, and the other failed."
    assistant = next(m for m in result["messages"] if m.get("toolCalls"))
    assert [c["function"]["arguments"] for c in assistant["toolCalls"]] == [
        '{"expression":"6*7"}',
        '{"expression":"1/0"}',
    ]


def test_approve_then_decline(server: LiveServer, upstream: OpenAIStandIn) -> None:
    upstream.enqueue(
        Reply(tokens=[], tool_calls=[ToolCall("save_note", NOTE, id="n1")]),
        Reply(tokens=["Saved."]),
        Reply(tokens=[], tool_calls=[ToolCall("save_note", NOTE, id="n2")]),
        Reply(tokens=["Not saved."]),
    )
    steps = [
        {"send": "Note the demo"},
        {"resume": "resolved", "payload": {"approved": True}},
        {"send": "Note it again"},
        {"resume": "cancelled"},
    ]
    result = ag_ui(server.url, "approvals", steps, path="/ag-ui/tool-agent::1.0.0")

    _valid(result)
    asked, approved, asked_again, declined = result["runs"]
    outcome = asked["events"][-1]["outcome"]
    assert outcome["type"] == "interrupt"
    (interrupt,) = outcome["interrupts"]
    assert interrupt["toolCallId"] == "n1"
    assert interrupt["reason"] == "tool_approval"
    assert interrupt["message"] == "Save the note 'Demo day'?"
    assert interrupt["metadata"]["value"]["note"] == NOTE
    assert asked["pending"][0]["id"] == interrupt["id"]

    assert approved["pending"] == []
    # The client holds the call already: only its result comes.
    assert _types(approved)[:3] == ["RUN_STARTED", "TOOL_CALL_RESULT", "TEXT_MESSAGE_START"]
    custom = [e for e in approved["events"] if e["type"] == "CUSTOM"]
    assert custom == [{"type": "CUSTOM", "name": "attachment", "value": {"type": "note", **NOTE}}]
    assert approved["events"][-1]["outcome"] == {"type": "success"}

    assert asked_again["events"][-1]["outcome"]["type"] == "interrupt"
    (result_event,) = [e for e in declined["events"] if e["type"] == "TOOL_CALL_RESULT"]
    assert result_event["toolCallId"] == "n2"
    assert "declined" in result_event["content"]
    assert _text(declined) == "Not saved."


def test_an_interrupt_no_tool_raised(server: LiveServer, upstream: OpenAIStandIn) -> None:
    upstream.enqueue(Reply(tokens=["Sunny in Lyon."]))
    steps = [{"send": "Weather?"}, {"resume": "resolved", "payload": "Lyon"}]
    result = ag_ui(server.url, "ask", steps, path="/ag-ui/ask-city")

    _valid(result)
    asked, answered = result["runs"]
    (interrupt,) = asked["events"][-1]["outcome"]["interrupts"]
    assert interrupt["reason"] == "input_required"
    assert interrupt["message"] == "Which city?"
    assert "toolCallId" not in interrupt
    assert _text(answered) == "Sunny in Lyon."
    assert upstream.seen[-1].messages[-1]["content"] == "The city is Lyon."


async def test_a_new_message_while_an_interrupt_waits_is_refused(
    server: LiveServer, upstream: OpenAIStandIn
) -> None:
    upstream.enqueue(Reply(tokens=[], tool_calls=[ToolCall("save_note", NOTE, id="n1")]))
    ag_ui(server.url, "waiting", [{"send": "Note it"}], path="/ag-ui/tool-agent")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        refused = await client.post("/ag-ui/tool-agent", json=_input("waiting", "Another"))
        wrong = await client.post(
            "/ag-ui/tool-agent",
            json={
                **_input("waiting"),
                "resume": [{"interruptId": "not-it", "status": "resolved", "payload": True}],
            },
        )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "interrupt_pending"
    assert wrong.status_code == 409
    assert wrong.json()["error"]["code"] == "interrupt_pending"


async def test_the_wire_is_what_ag_uis_encoder_writes(
    server: LiveServer, upstream: OpenAIStandIn
) -> None:
    upstream.enqueue(
        Reply(tokens=["Sure."], tool_calls=[ToolCall("calculator", {"expression": "1+1"})]),
        Reply(tokens=["Two."]),
    )
    encoder = EventEncoder()
    body = _input("wire", "1+1?")
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=10) as client,
        client.stream("POST", "/ag-ui/tool-agent", json=body) as r,
    ):
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    assert len(lines) > 8
    for line in lines:
        sent = orjson.loads(line[len("data: ") :])
        model = EVENT.validate_python(sent)
        assert orjson.loads(encoder.encode(model)[len("data: ") :]) == sent


async def test_another_users_thread_is_refused(server: LiveServer, upstream: OpenAIStandIn) -> None:
    upstream.enqueue(Reply(tokens=["Mine."]))
    ag_ui(server.url, "alice-ag", [{"send": "Hi"}], headers={"X-User-Id": "alice"})
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        refused = await client.post(
            "/ag-ui", json=_input("alice-ag", "Hi"), headers={"X-User-Id": "bob"}
        )
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "thread_not_found"
    assert "Mine" not in refused.text


def _input(thread: str, text: str | None = None, **fields: Any) -> dict[str, Any]:
    messages = [{"id": uuid.uuid4().hex, "role": "user", "content": text}] if text else []
    body = {
        "threadId": thread,
        "runId": uuid.uuid4().hex,
        "messages": messages,
        "tools": [],
        "context": [],
        "state": {},
        "forwardedProps": {},
    }
    return {**body, **fields}


@pytest.mark.parametrize(
    ("path", "body", "status", "code", "says"),
    [
        ("/ag-ui", {"runId": "r", "messages": []}, 422, "validation_error", "threadId"),
        ("/ag-ui", _input("t", "Hi", messages="hi"), 422, "validation_error", "messages"),
        ("/ag-ui", _input("no spaces", "Hi"), 422, "validation_error", "threadId"),
        ("/ag-ui", _input("t"), 422, "validation_error", "no user message"),
        ("/ag-ui/no-such-graph", _input("t", "Hi"), 404, "graph_not_found", "no-such-graph"),
        ("/ag-ui/streaming-chat::9.9.9", _input("t", "Hi"), 404, "graph_not_found", "9.9.9"),
        (
            "/ag-ui",
            _input("t", "Hi", forwardedProps={"graphSettings": {"temperature": "hot"}}),
            422,
            "validation_error",
            "temperature",
        ),
        (
            "/ag-ui",
            _input("t", "Hi", forwardedProps={"graphSettings": "hot"}),
            422,
            "validation_error",
            "graphSettings",
        ),
        ("/ag-ui", _input("t", " "), 422, "validation_error", "empty"),
        (
            "/ag-ui",
            _input("t", resume=[{"interruptId": "x", "status": "resolved"}]),
            409,
            "no_pending_interrupt",
            "no pending interrupt",
        ),
    ],
)
async def test_bad_bodies_get_a_json_error(
    server: LiveServer, path: str, body: dict[str, Any], status: int, code: str, says: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.post(path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert says in error["message"] or says in str(error.get("details"))


def test_a_failure_is_run_error_and_the_thread_goes_on(
    server: LiveServer, upstream: OpenAIStandIn
) -> None:
    upstream.enqueue(
        Reply(tokens=["Part", "ly", " cut", " off"], drop_after=2), Reply(tokens=["Fine."])
    )
    result = ag_ui(server.url, "failing", [{"send": "One"}, {"send": "Two"}])

    failed, fine = result["runs"]
    errors = [e for e in failed["events"] if e["type"] == "RUN_ERROR"]
    assert len(errors) == 1
    assert errors[0]["code"] == "upstream_error"
    assert failed["events"][-1] == errors[0]  # nothing after it
    for event in failed["events"]:
        EVENT.validate_python(event)
    assert "error" not in fine
    assert _text(fine) == "Fine."
