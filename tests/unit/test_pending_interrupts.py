"""The flat pending-interrupt read (app/runs/interrupts.py) agrees with ``graph.aget_state``.

Each scenario drives a real graph on a real saver (in memory, and the Redis saver on a real
redis-server) to a state, then asks both. If a LangGraph release changes what its pending
writes mean, these fail before a user is told the wrong thing.
"""

from __future__ import annotations

import contextlib
import operator
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, Send, interrupt

from app.runs.interrupts import read_pending, waiting
from app.settings import Settings
from app.stores.checkpointer import Checkpointer, open_checkpointer


class State(TypedDict, total=False):
    messages: Annotated[list[Any], add_messages]
    answers: Annotated[list[str], operator.add]


def _ask(question: str) -> Callable[[State], dict[str, Any]]:
    def node(state: State) -> dict[str, Any]:
        return {"answers": [str(interrupt(question))]}

    return node


def _twice(state: State) -> dict[str, Any]:
    first = interrupt("first?")
    second = interrupt("second?")
    return {"answers": [f"{first}/{second}"]}


def _reply(state: State) -> dict[str, Any]:
    return {"messages": [AIMessage("done")]}


def _then_reply(saver: BaseCheckpointSaver[Any], name: str, node: Any) -> Any:
    """START -> ``node`` -> a reply -> END."""
    g = StateGraph(State)
    g.add_node(name, node)
    g.add_node("reply", _reply)
    g.add_edge(START, name)
    g.add_edge(name, "reply")
    g.add_edge("reply", END)
    return g.compile(checkpointer=saver)


def _linear(saver: BaseCheckpointSaver[Any]) -> Any:
    return _then_reply(saver, "ask", _ask("approve?"))


def _parallel(saver: BaseCheckpointSaver[Any]) -> Any:
    g = StateGraph(State)
    g.add_node("left", _ask("left?"))
    g.add_node("right", _ask("right?"))
    g.add_node("calm", _reply)
    g.add_edge(START, "left")
    g.add_edge(START, "right")
    g.add_edge(START, "calm")
    g.add_edge(["left", "right", "calm"], END)
    return g.compile(checkpointer=saver)


def _sequential(saver: BaseCheckpointSaver[Any]) -> Any:
    g = StateGraph(State)
    g.add_node("twice", _twice)
    g.add_edge(START, "twice")
    g.add_edge("twice", END)
    return g.compile(checkpointer=saver)


def _fan_out(saver: BaseCheckpointSaver[Any]) -> Any:
    g = StateGraph(State)
    g.add_node("ask", _ask("which?"))
    g.add_conditional_edges(START, lambda _: [Send("ask", {}), Send("ask", {})])
    g.add_edge("ask", END)
    return g.compile(checkpointer=saver)


def _nested(saver: BaseCheckpointSaver[Any]) -> Any:
    inner = StateGraph(State)
    inner.add_node("ask", _ask("inner?"))
    inner.add_edge(START, "ask")
    inner.add_edge("ask", END)
    return _then_reply(saver, "sub", inner.compile())


def _failing(saver: BaseCheckpointSaver[Any]) -> Any:
    def boom(state: State) -> dict[str, Any]:
        raise RuntimeError("boom")

    g = StateGraph(State)
    g.add_node("ask", _ask("still?"))
    g.add_node("boom", boom)
    g.add_edge(START, "ask")
    g.add_edge(START, "boom")
    g.add_edge(["ask", "boom"], END)
    return g.compile(checkpointer=saver)


async def _turn(graph: Any, config: Any, payload: Any) -> None:
    with contextlib.suppress(RuntimeError):  # a failed task's writes are under test
        await graph.ainvoke(payload, config)


async def _resume_one(graph: Any, config: Any) -> None:
    """Answer the first pending interrupt by id, leaving the others waiting."""
    snapshot = await graph.aget_state(config)
    first = snapshot.interrupts[0]
    await graph.ainvoke(Command(resume={first.id: "yes"}), config)


Step = Callable[[Any, Any], Awaitable[None]]
START_TURN: Step = lambda g, c: _turn(g, c, {"messages": [HumanMessage("hi")]})  # noqa: E731
RESUME: Step = lambda g, c: _turn(g, c, Command(resume="yes"))  # noqa: E731

SCENARIOS: dict[str, tuple[Callable[[BaseCheckpointSaver[Any]], Any], list[Step], int]] = {
    "new thread": (_linear, [], 0),
    "one waiting": (_linear, [START_TURN], 1),
    "answered, finished": (_linear, [START_TURN, RESUME], 0),
    "next turn waits again": (_linear, [START_TURN, RESUME, START_TURN], 1),
    "two waiting beside a finished task": (_parallel, [START_TURN], 2),
    "one of two answered": (_parallel, [START_TURN, _resume_one], 1),
    "second question of a task": (_sequential, [START_TURN, RESUME], 1),
    "sends": (_fan_out, [START_TURN], 2),
    "subgraph waiting": (_nested, [START_TURN], 1),
    "subgraph answered": (_nested, [START_TURN, RESUME], 0),
    "beside a failed task": (_failing, [START_TURN], 1),
}


@pytest.fixture(params=["memory", "redis"])
async def checkpointer(
    request: pytest.FixtureRequest, redis_db: str
) -> AsyncIterator[Checkpointer]:
    """An in-memory saver read whole, or Redis as the server opens it (heads without values)."""
    if request.param == "memory":
        yield Checkpointer(InMemorySaver(), "memory")
        return
    async with open_checkpointer(Settings(redis_url=redis_db)) as opened:
        assert opened.read_head is not None
        yield opened


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_read_pending_when_scenario_then_same_as_aget_state(
    checkpointer: Checkpointer, name: str
) -> None:
    """Both name the same interrupts (ids and values) for the thread's newest checkpoint."""
    build, steps, expected = SCENARIOS[name]
    graph = build(checkpointer.saver)
    config = {"configurable": {"thread_id": "t"}}
    for step in steps:
        await step(graph, config)

    flat = await read_pending(checkpointer, "t")
    snapshot = await graph.aget_state(config)

    assert sorted((i.id, i.value) for i in flat) == sorted(
        (i.id, i.value) for i in snapshot.interrupts
    )
    assert len(flat) == expected


def test_waiting_when_task_has_output_then_its_interrupt_is_answered() -> None:
    """A task that wrote an output finished, so its recorded question no longer waits; the
    step's input (the null task) is not a task."""
    asked = [
        ("a", "__interrupt__", ["qa"]),
        ("b", "__interrupt__", ["qb"]),
        ("b", "__resume__", ["yes"]),
        ("b", "answers", ["yes"]),
        ("00000000-0000-0000-0000-000000000000", "__interrupt__", ["input"]),
    ]

    assert waiting(asked) == ("qa",)
