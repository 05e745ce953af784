"""tool-agent over a real socket: tool steps on the wire, the final rule, usage, vendor quirks,
tool errors, the step limit, and a cancel in the middle of a tool call."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from langchain_core.messages import BaseMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition

from bench.openai_standin import OpenAIStandIn, Reply, ToolCall
from graphs import ChatModelFactory, Conversation, GraphVersion, ModelSettings, Version
from tests.conftest import ServerFactory
from tests.support.registries import agent_registry
from tests.support.sse import Stream, frames, stream


def _body(content: str, thread: str = "agent-1", **extra: Any) -> dict[str, Any]:
    return {
        "threadId": thread,
        "userId": "u-1",
        "graphType": "tool-agent",
        "message": {"content": content},
        **extra,
    }


def _events(result: Stream) -> list[tuple[str, Any]]:
    """(type, data) of every frame: stream_event types, or the event name."""
    out: list[tuple[str, Any]] = []
    for frame in result.frames:
        kind = frame.data.get("type") if frame.event == "stream_event" else frame.event
        out.append((kind, frame.data))
    return out


def _kinds(result: Stream) -> list[str]:
    """Frame types with consecutive repeats collapsed: the shape of a turn."""
    kinds: list[str] = []
    for kind, _ in _events(result):
        if not kinds or kinds[-1] != kind:
            kinds.append(kind)
    return kinds


def _text_after_last_step(result: Stream) -> str:
    events = _events(result)
    last = max((i for i, (k, _) in enumerate(events) if k == "step_finished"), default=-1)
    return "".join(d["content"] for k, d in events[last + 1 :] if k == "chunk")


async def test_offline_agent_streams_a_calculator_step_and_answers_391(
    make_server: ServerFactory,
) -> None:
    """No API key: the offline model calls calculator, the step streams, the answer has 391."""
    server = make_server(registry=agent_registry(), openai_api_key=None, offline_token_delay_ms=0)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        result = await stream(client, _body("What is 17*23?"))

    assert _kinds(result) == [
        "step_started",
        "tool_input_chunk",
        "tool_output_chunk",
        "step_finished",
        "chunk",
        "final",
    ]
    events = dict(_events(result))
    started, finished = events["step_started"]["step"], events["step_finished"]["step"]
    assert started == {"id": started["id"], "type": "tool_use", "name": "calculator", "index": 0}
    inputs = "".join(d["chunk"] for k, d in _events(result) if k == "tool_input_chunk")
    assert json.loads(inputs) == {"expression": "17*23"}
    assert events["tool_output_chunk"] == {
        "type": "tool_output_chunk",
        "stepId": started["id"],
        "chunk": "391",
    }
    assert finished["status"] == "success" and finished["output"] == "391"
    assert finished["input"] == {"expression": "17*23"}
    final = result.final
    assert "391" in final["text"]
    assert final["text"] == _text_after_last_step(result)
    assert final["metadata"]["steps"] == [
        {"id": started["id"], "name": "calculator", "input": {"expression": "17*23"},
         "output": "391", "status": "success"}
    ]  # fmt: skip


async def test_one_tool_call_against_the_standin_reads_the_last_message_and_sums_usage(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """The text before the step streams but is not the answer; usage is both calls' sum; the
    second request carries the tool's result."""
    upstream.enqueue(
        Reply(
            tokens=["Let ", "me ", "add."],
            tool_calls=[ToolCall("calculator", {"expression": "2+3"}, id="call_add")],
        ),
        Reply(tokens=["It ", "is ", "5."]),
    )
    server = make_server(registry=agent_registry())
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        result = await stream(client, _body("Add 2 and 3"))

    final = result.final
    assert "".join(result.chunks) == "Let me add.It is 5."
    assert final["text"] == "It is 5." == _text_after_last_step(result)
    sent = [seen.body for seen in upstream.seen]
    assert len(sent) == 2
    tool_result = sent[1]["messages"][-1]
    assert tool_result == {"role": "tool", "content": "5", "tool_call_id": "call_add"}
    prompt = [sum(len(str(m.get("content") or "").split()) for m in b["messages"]) for b in sent]
    usage = final["metadata"]["usage"]
    assert usage["inputTokens"] == sum(prompt)
    assert usage["outputTokens"] == 3 + 3
    assert final["metadata"]["finishReason"] == "stop"


async def test_parallel_calls_are_two_steps(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """Two calls in one message: two steps, indexed 0 and 1, both finished, both results sent."""
    upstream.enqueue(
        Reply(
            tokens=[],
            tool_calls=[
                ToolCall("calculator", {"expression": "6*7"}, id="call_a"),
                ToolCall("current_time", {"timezone": "Europe/Paris"}, id="call_b"),
            ],
        ),
        Reply(tokens=["Done."]),
    )
    server = make_server(registry=agent_registry())
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        result = await stream(client, _body("Both please"))

    started = [d["step"] for k, d in _events(result) if k == "step_started"]
    finished = {d["step"]["id"]: d["step"] for k, d in _events(result) if k == "step_finished"}
    assert [(s["id"], s["name"], s["index"]) for s in started] == [
        ("call_a", "calculator", 0),
        ("call_b", "current_time", 1),
    ]
    assert finished["call_a"]["output"] == "42"
    assert "CE" in finished["call_b"]["output"]  # CET or CEST
    results = [m for m in upstream.seen[1].body["messages"] if m["role"] == "tool"]
    assert {m["tool_call_id"] for m in results} == {"call_a", "call_b"}
    assert result.final["text"] == "Done."


QUIRKS = [
    ("pieces", None, None),
    ("whole", None, None),
    ("no_index", None, None),
    ("pieces", "stop", None),  # finish_reason "stop" although tools were called
    ("pieces", None, "Thinking about arithmetic..."),  # reasoning fields to ignore
]


@pytest.mark.parametrize(
    ("client_mode", "style", "finish", "reasoning"),
    # langchain's stock client merges index-less deltas into several broken calls; see
    # test_stock_client_with_index_less_deltas_fails_cleanly for what happens there.
    [("fast", *q) for q in QUIRKS] + [("stock", *q) for q in QUIRKS if q[0] != "no_index"],
)
async def test_vendor_quirks_give_the_same_step(
    make_server: ServerFactory,
    upstream: OpenAIStandIn,
    client_mode: str,
    style: str,
    finish: str | None,
    reasoning: str | None,
) -> None:
    """However the vendor streams the call, the step, its input and the answer are the same,
    with either model client."""
    upstream.enqueue(
        Reply(
            tokens=[],
            tool_calls=[ToolCall("calculator", {"expression": "17*23"}, id="call_q")],
            tool_style=style,
            finish_reason=finish,
            reasoning=reasoning,
        ),
        Reply(tokens=["391."]),
    )
    server = make_server(registry=agent_registry(), model_client=client_mode)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        result = await stream(client, _body("What is 17*23?", thread=f"quirk-{style}"))

    finished = [d["step"] for k, d in _events(result) if k == "step_finished"]
    assert [(s["id"], s["name"], s["input"], s["output"]) for s in finished] == [
        ("call_q", "calculator", {"expression": "17*23"}, "391")
    ]
    inputs = "".join(d["chunk"] for k, d in _events(result) if k == "tool_input_chunk")
    assert json.loads(inputs) == {"expression": "17*23"}
    assert result.final["text"] == "391."
    assert "Thinking" not in "".join(result.chunks)


async def test_stock_client_with_index_less_deltas_fails_cleanly(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """MODEL_CLIENT=stock cannot merge tool-call deltas that carry no index (langchain's own
    behaviour): the turn ends with an error frame, and the thread still works next turn."""
    upstream.enqueue(
        Reply(
            tokens=[],
            tool_calls=[ToolCall("calculator", {"expression": "17*23"}, id="call_q")],
            tool_style="no_index",
        ),
        Reply(tokens=["Recovered."]),
        Reply(tokens=["Recovered."]),
    )
    server = make_server(registry=agent_registry(), model_client="stock")
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        failed = await stream(client, _body("What is 17*23?", thread="stock-quirk"))
        after = await stream(client, _body("Again", thread="stock-quirk"))

    assert "final" not in _kinds(failed) or failed.final["text"] != "391."
    assert after.status == 200
    assert after.final["text"] == "Recovered."
    _assert_every_call_answered(upstream.seen[-1].body["messages"])


async def test_tool_error_is_an_error_step_and_the_model_sees_it(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """A tool that raises: step_finished with status error; the model gets the error."""
    upstream.enqueue(
        Reply(tokens=[], tool_calls=[ToolCall("calculator", {"expression": "1/0"}, id="c0")]),
        Reply(tokens=["Cannot ", "divide ", "by ", "zero."]),
    )
    server = make_server(registry=agent_registry())
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        result = await stream(client, _body("1/0?"))

    (step,) = [d["step"] for k, d in _events(result) if k == "step_finished"]
    assert step["status"] == "error"
    assert "division by zero" in step["output"]
    tool_message = upstream.seen[1].body["messages"][-1]
    assert tool_message["role"] == "tool" and "division by zero" in tool_message["content"]
    assert result.final["text"] == "Cannot divide by zero."
    assert result.final["metadata"]["steps"][0]["status"] == "error"


async def test_max_steps_ends_with_an_error_and_a_consistent_thread(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """Past maxSteps the turn ends with an error frame max_steps; every tool call in the thread
    has its result, so the next turn's request is valid and answers."""
    call = [ToolCall("calculator", {"expression": "1+1"})]
    upstream.enqueue(Reply(tokens=[], tool_calls=call), Reply(tokens=[], tool_calls=call))
    server = make_server(registry=agent_registry())
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        result = await stream(client, _body("Loop", graphSettings={"maxSteps": 1}))
        assert result.error["code"] == "max_steps"
        upstream.enqueue(Reply(tokens=["Fine."]))
        after = await stream(client, _body("Next"))
        history = (await client.get("/threads/agent-1/messages", params={"userId": "u-1"})).json()

    assert after.final["text"] == "Fine."
    _assert_every_call_answered(upstream.seen[-1].body["messages"])
    roles = [m["role"] for m in history["messages"]]
    assert roles == ["user", "assistant", "tool", "user", "assistant"]
    assert history["messages"][1]["toolCalls"][0]["name"] == "calculator"
    assert history["messages"][2]["content"] == "2"


def _assert_every_call_answered(messages: list[dict[str, Any]]) -> None:
    calls = [c["id"] for m in messages for c in m.get("tool_calls") or []]
    results = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    assert calls == results


# -- a cancel while a tool runs -------------------------------------------------------------

_started = asyncio.Event()


@tool
async def slow_lookup(topic: str) -> str:
    """Look a topic up, slowly."""
    _started.set()
    await asyncio.sleep(30)
    return f"all about {topic}"


def _slow_agent(models: ChatModelFactory) -> StateGraph[Any, Any, Any, Any]:
    async def agent(state: MessagesState) -> dict[str, list[BaseMessage]]:
        llm = ModelSettings().chat_model(models).bind_tools([slow_lookup])
        reply = await llm.ainvoke([SystemMessage("Use tools."), *state["messages"]])
        return {"messages": [reply]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([slow_lookup]))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    return graph


async def test_cancel_during_a_tool_call_leaves_no_call_without_a_result(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """Cancelled mid-tool: the stream ends cancelled, the call gets a cancelled result in the
    thread, and the next turn's request to the model is valid and answers."""
    registry = agent_registry()
    registry.register(
        GraphVersion(
            "slow-agent",
            Version(1, 0, 0),
            ModelSettings,
            _slow_agent,
            conversation=Conversation(stream_nodes=["agent"]),
        )
    )
    _started.clear()
    upstream.enqueue(
        Reply(tokens=["Looking."], tool_calls=[ToolCall("slow_lookup", {"topic": "x"}, id="s1")])
    )
    server = make_server(registry=registry)
    body = {
        "requestId": "slow-1",
        "threadId": "slow",
        "userId": "u-1",
        "graphType": "slow-agent",
        "message": {"content": "Look up x"},
    }
    final: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        async with client.stream("POST", "/stream", json=body) as response:
            async for frame in frames(response):
                if frame.event == "stream_event" and frame.data["type"] == "step_started":
                    await asyncio.wait_for(_started.wait(), 10)
                    assert (await client.post("/cancel/slow-1")).status_code == 200
                if frame.event == "final":
                    final = frame.data
        upstream.enqueue(Reply(tokens=["Next ", "answer."]))
        following = await client.post(
            "/generate", json={**body, "requestId": "slow-2", "message": {"content": "Hi"}}
        )
        history = (await client.get("/threads/slow/messages", params={"userId": "u-1"})).json()

    assert final["metadata"]["finishReason"] == "cancelled"
    assert following.status_code == 200, following.text
    assert following.json()["text"] == "Next answer."
    _assert_every_call_answered(upstream.seen[-1].body["messages"])
    tool = [m for m in history["messages"] if m["role"] == "tool"]
    assert [(t["toolCallId"], t["status"]) for t in tool] == [("s1", "error")]
