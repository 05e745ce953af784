"""runs.stream with each stream mode, as LangGraph's Python client reads them."""

from __future__ import annotations

import itertools
import json
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from graphs import ChatModelFactory, Conversation, GraphSettings, GraphVersion, Version
from tests.langgraph_api.conftest import Offline
from tests.langgraph_api.support import (
    ANSWER_391,
    CALCULATION,
    TIMEOUT,
    collect,
    events,
    ids,
    kinds,
    of,
    said,
    tuples_text,
)
from tests.support.registries import agent_registry


async def _thread(lg: LangGraphClient) -> str:
    return str((await lg.threads.create())["thread_id"])


async def test_values_streams_each_state_of_the_tool_turn(
    offline: Offline, memory: dict[str, Any]
) -> None:
    """values: the input state first, the whole turn last (call, result, answer); the thread's
    state is the last values frame; frame ids are increasing integers."""
    async with get_client(url=offline(**memory), api_key=None, timeout=TIMEOUT) as lg:
        thread_id = await _thread(lg)
        parts = await collect(lg.runs.stream(thread_id, "tool-agent", input=said(CALCULATION)))
        state = await lg.threads.get_state(thread_id)

    assert parts[0].event == "metadata"
    assert set(events(parts[1:])) == {"values"}
    snapshots = of(parts, "values")
    assert kinds(snapshots[0]["messages"]) == [("human", CALCULATION)]
    last = snapshots[-1]["messages"]
    assert kinds(last) == [("human", CALCULATION), ("ai", ""), ("tool", "391"), ("ai", ANSWER_391)]
    assert last[1]["tool_calls"][0]["name"] == "calculator"
    assert state["values"] == snapshots[-1]
    frame_ids = ids(parts)
    assert len(frame_ids) == len(parts) - 1
    assert frame_ids == sorted(set(frame_ids))


async def test_updates_streams_each_node_write(lg: LangGraphClient) -> None:
    """updates: one frame per node step, agent, tools, agent, each with its own write."""
    thread_id = await _thread(lg)
    parts = await collect(
        lg.runs.stream(thread_id, "tool-agent", input=said(CALCULATION), stream_mode="updates")
    )
    updates = of(parts, "updates")
    assert events(parts) == ["metadata"] + ["updates"] * len(updates)
    assert [list(u) for u in updates] == [["agent"], ["tools"], ["agent"]]
    assert kinds(updates[1]["tools"]["messages"]) == [("tool", "391")]
    assert kinds(updates[2]["agent"]["messages"]) == [("ai", ANSWER_391)]


async def test_messages_tuple_tokens_make_the_saved_reply_with_its_id(
    offline: Offline, memory: dict[str, Any]
) -> None:
    """messages-tuple: the chunks concatenate to the AI message the thread saves, carry its
    id and the chat node's metadata."""
    async with get_client(url=offline(**memory), api_key=None, timeout=TIMEOUT) as lg:
        thread_id = await _thread(lg)
        parts = await collect(
            lg.runs.stream(
                thread_id, "streaming-chat", input=said("hello"), stream_mode="messages-tuple"
            )
        )
        state = await lg.threads.get_state(thread_id)

    assert events(parts)[0] == "metadata"
    assert set(events(parts)[1:]) == {"messages"}
    saved = state["values"]["messages"][-1]
    assert saved["type"] == "ai"
    assert 'You said: "hello"' in saved["content"]
    assert tuples_text(parts) == saved["content"]
    chunks = of(parts, "messages")
    assert len(chunks) > 5
    assert {message["id"] for message, _ in chunks} == {saved["id"]}
    assert {metadata["langgraph_node"] for _, metadata in chunks} == {"chat"}
    assert all(metadata["thread_id"] == thread_id for _, metadata in chunks)


async def test_messages_tuple_of_a_tool_turn_has_the_call_and_the_result(
    lg: LangGraphClient,
) -> None:
    """messages-tuple on tool-agent: the call's argument chunks make its arguments, the tool's
    result comes whole from the tools node, then the answer's tokens."""
    thread_id = await _thread(lg)
    parts = await collect(
        lg.runs.stream(
            thread_id, "tool-agent", input=said(CALCULATION), stream_mode="messages-tuple"
        )
    )
    chunks = of(parts, "messages")
    calls = [c for message, _ in chunks for c in message.get("tool_call_chunks") or []]
    assert calls[0]["name"] == "calculator"
    assert json.loads("".join(c["args"] or "" for c in calls)) == {"expression": "17*23"}
    tools = [(m, meta) for m, meta in chunks if m["type"] == "tool"]
    assert [(m["content"], meta["langgraph_node"]) for m, meta in tools] == [("391", "tools")]
    assert tuples_text(parts) == ANSWER_391


async def test_messages_mode_sends_metadata_partials_and_completes(lg: LangGraphClient) -> None:
    """messages: each message's metadata before its first partial, partials that grow to the
    saved message, the tool's result as a complete message; every AI message of the turn,
    the tool call too, shows up (as langgraph-api streams every chunk)."""
    thread_id = await _thread(lg)
    parts = await collect(
        lg.runs.stream(thread_id, "tool-agent", input=said(CALCULATION), stream_mode="messages")
    )
    state = await lg.threads.get_state(thread_id)
    call, result, answer = state["values"]["messages"][1:]

    assert set(events(parts)[1:]) <= {
        "messages/metadata",
        "messages/partial",
        "messages/complete",
    }
    announced: list[str] = []
    shown: dict[str, list[dict[str, Any]]] = {}
    for part in parts[1:]:
        if part.event == "messages/metadata":
            announced.extend(part.data)
            continue
        (message,) = part.data
        assert message["id"] in announced, f"{part.event} before its metadata"
        shown.setdefault(message["id"], []).append(message)
    partials = [m["content"] for m in shown[answer["id"]]]
    assert partials[-1] == ANSWER_391
    assert all(b.startswith(a) for a, b in itertools.pairwise(partials))
    assert of(parts, "messages/complete") == [[result]]
    # langgraph-api sends the tool call's chunks as partials too, ending with its call.
    assert call["id"] in shown, "the tool-calling AI message never appeared"
    assert shown[call["id"]][-1]["tool_calls"][0]["name"] == "calculator"


async def test_events_mode_streams_the_runnables_events(lg: LangGraphClient) -> None:
    """events: astream_events v2 items, from the graph's start to its end, whose model tokens
    make the reply."""
    thread_id = await _thread(lg)
    parts = await collect(
        lg.runs.stream(thread_id, "streaming-chat", input=said("hello"), stream_mode="events")
    )
    items = of(parts, "events")
    assert set(events(parts)[1:]) == {"events"}
    names = [item["event"] for item in items]
    assert names[0] == "on_chain_start"
    assert names[-1] == "on_chain_end"
    assert {"on_chat_model_start", "on_chat_model_end"} <= set(names)
    tokens = "".join(
        item["data"]["chunk"]["content"]
        for item in items
        if item["event"] == "on_chat_model_stream"
    )
    state = await lg.threads.get_state(thread_id)
    assert tokens == state["values"]["messages"][-1]["content"]
    assert ids(parts) == sorted(set(ids(parts)))


async def test_debug_mode_streams_checkpoints_tasks_and_results(lg: LangGraphClient) -> None:
    """debug: checkpoint, task and task_result items; the chat task's result is the reply."""
    thread_id = await _thread(lg)
    parts = await collect(
        lg.runs.stream(thread_id, "streaming-chat", input=said("hello"), stream_mode="debug")
    )
    items = of(parts, "debug")
    assert set(events(parts)[1:]) == {"debug"}
    assert {"checkpoint", "task", "task_result"} <= {item["type"] for item in items}
    (task,) = [i for i in items if i["type"] == "task"]
    (result,) = [i for i in items if i["type"] == "task_result"]
    assert task["payload"]["name"] == result["payload"]["name"] == "chat"
    assert task["payload"]["id"] == result["payload"]["id"]
    written = result["payload"]["result"]
    state = await lg.threads.get_state(thread_id)
    assert written["messages"][0]["content"] == state["values"]["messages"][-1]["content"]
    checkpoints = [i["payload"]["config"] for i in items if i["type"] == "checkpoint"]
    checkpoint_ids = [c["configurable"]["checkpoint_id"] for c in checkpoints]
    assert checkpoint_ids[-1] == state["checkpoint"]["checkpoint_id"]


async def test_several_modes_interleave_on_one_stream(lg: LangGraphClient) -> None:
    """values, updates and messages-tuple together: each as it would come alone, in run order,
    the last frame the final values."""
    thread_id = await _thread(lg)
    parts = await collect(
        lg.runs.stream(
            thread_id,
            "tool-agent",
            input=said(CALCULATION),
            stream_mode=["values", "updates", "messages-tuple"],
        )
    )
    assert set(events(parts)) == {"metadata", "values", "updates", "messages"}
    assert parts[-1].event == "values"
    assert [list(u) for u in of(parts, "updates")] == [["agent"], ["tools"], ["agent"]]
    assert tuples_text(parts) == ANSWER_391
    assert kinds(parts[-1].data["messages"])[-1] == ("ai", ANSWER_391)
    frame_ids = [int(p.id) for p in parts if p.id is not None]
    assert frame_ids == sorted(frame_ids)


# -- custom mode and subgraphs, on a graph of the tests' own ------------------------------


def _progress_graph(models: ChatModelFactory) -> StateGraph[Any, Any, Any, Any]:
    """work writes two custom items and the reply; inner (a subgraph) writes one more."""

    async def work(state: MessagesState) -> dict[str, list[BaseMessage]]:
        write = get_stream_writer()
        write({"progress": 1})
        write({"progress": 2})
        return {"messages": [AIMessage("worked")]}

    async def deep(state: MessagesState) -> dict[str, list[BaseMessage]]:
        get_stream_writer()({"deep": True})
        return {"messages": []}

    inner = StateGraph(MessagesState)
    inner.add_node("deep", deep)
    inner.add_edge(START, "deep")
    inner.add_edge("deep", END)

    graph = StateGraph(MessagesState)
    graph.add_node("work", work)
    graph.add_node("inner", inner.compile())
    graph.add_edge(START, "work")
    graph.add_edge("work", "inner")
    graph.add_edge("inner", END)
    return graph


PROGRESS = GraphVersion(
    "progress",
    Version(1, 0, 0),
    GraphSettings,
    _progress_graph,
    conversation=Conversation(stream_nodes=["work"]),
)


async def test_custom_mode_streams_what_a_node_writes(offline: Offline) -> None:
    """custom: what the node passes to get_stream_writer(), in order; the subgraph's item is
    not shown without stream_subgraphs; the run still saves the reply."""
    registry = agent_registry()
    registry.register(PROGRESS)
    async with get_client(url=offline(registry=registry), api_key=None, timeout=TIMEOUT) as lg:
        thread_id = await _thread(lg)
        parts = await collect(
            lg.runs.stream(thread_id, "progress", input=said("go"), stream_mode="custom")
        )
        state = await lg.threads.get_state(thread_id)

    assert events(parts) == ["metadata", "custom", "custom"]
    assert of(parts, "custom") == [{"progress": 1}, {"progress": 2}]
    assert kinds(state["values"]["messages"]) == [("human", "go"), ("ai", "worked")]


async def test_stream_subgraphs_names_the_subgraph_frames(offline: Offline) -> None:
    """stream_subgraphs: the subgraph's frames come as ``<mode>|<namespace>``, the parent's
    under the plain mode name."""
    registry = agent_registry()
    registry.register(PROGRESS)
    async with get_client(url=offline(registry=registry), api_key=None, timeout=TIMEOUT) as lg:
        thread_id = await _thread(lg)
        parts = await collect(
            lg.runs.stream(
                thread_id,
                "progress",
                input=said("go"),
                stream_mode=["custom", "updates"],
                stream_subgraphs=True,
            )
        )

    names = events(parts)
    assert of(parts, "custom") == [{"progress": 1}, {"progress": 2}]
    nested = [p for p in parts if p.event.startswith("custom|")]
    assert [p.data for p in nested] == [{"deep": True}]
    assert nested[0].event.startswith("custom|inner:")
    assert any(n.startswith("updates|inner:") for n in names)
    assert [list(u) for u in of(parts, "updates")] == [["work"], ["inner"]]
