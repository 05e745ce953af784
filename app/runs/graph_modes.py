"""Running a graph for a LangGraph API run: its own stream modes become run events.

A seed turn runs the graph with ``ainvoke``: its view needs only the model's deltas, which the
turn's callback taps. A LangGraph API run may also show the graph's own stream modes
(``values``, ``updates``, ``custom``, ``debug``, ``events``): the graph runs with ``astream``
(or ``astream_events`` for ``events``) and every item becomes a :class:`GraphChunk`. The model's
deltas still come from the callback, so ``messages-tuple`` costs no more than the seed's chunks.
``values`` and ``updates`` are always asked for: the run's output and interrupts are read from
them, and a ``messages-tuple`` view shows the messages that no model streamed (tool results)
from ``updates``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from app.runs.events import GraphChunk, RunEvent
from app.runs.spec import Turn

Graph = CompiledStateGraph[Any, Any, Any, Any]


async def stream_graph(
    graph: Graph,
    graph_input: Any,
    config: RunnableConfig,
    turn: Turn,
    emit: Callable[[RunEvent], None],
) -> dict[str, Any]:
    """Run ``graph`` for ``turn`` (a LangGraph API run), emitting its stream-mode items; the
    state it ended with, with ``"__interrupt__"`` when it stopped on interrupts."""
    graph_run = turn.graph_run
    assert graph_run is not None
    modes: Any = sorted(graph_run.graph_modes - {"events"} | {"values", "updates"})
    kwargs: dict[str, Any] = {
        "context": turn.settings,
        "durability": graph_run.durability,
        "subgraphs": graph_run.subgraphs,
    }
    if graph_run.interrupt_before is not None:
        kwargs["interrupt_before"] = graph_run.interrupt_before
    if graph_run.interrupt_after is not None:
        kwargs["interrupt_after"] = graph_run.interrupt_after
    state: dict[str, Any] = {}
    interrupts: list[Any] = []

    def take(namespace: tuple[str, ...], mode: str, data: Any) -> None:
        nonlocal state
        if not namespace:
            if mode == "values" and isinstance(data, dict):
                state = data
            elif mode == "updates" and isinstance(data, dict) and data.get("__interrupt__"):
                interrupts.extend(data["__interrupt__"])
        emit(GraphChunk(mode, namespace, data))

    if "events" in graph_run.stream_modes:
        # The root run's id tells its stream-mode items from the rest of the events.
        run_id = uuid.uuid4()
        config = {**config, "run_id": run_id}
        root = str(run_id)
        async for event in graph.astream_events(
            graph_input, config, version="v2", stream_mode=modes, **kwargs
        ):
            if event["event"] == "on_chain_stream" and event["run_id"] == root:
                item = event["data"]["chunk"]
                namespace, mode, data = item if graph_run.subgraphs else ((), *item)
                take(tuple(namespace), mode, data)
            else:
                emit(GraphChunk("events", (), event))
    else:
        async for item in graph.astream(graph_input, config, stream_mode=modes, **kwargs):
            namespace, mode, data = item if graph_run.subgraphs else ((), *item)
            take(tuple(namespace), mode, data)
    if interrupts:
        return {**state, "__interrupt__": interrupts}
    return state
