"""Running a graph with its own stream modes: each of their items becomes a run event.

A run that asks for none of them (the chat API's) runs the graph with ``ainvoke``: its view
needs only the model's deltas, which the run's callback taps. A run may also show the graph's
own stream modes (``values``, ``updates``, ``custom``, ``debug``, ``events``): the graph runs
with ``astream`` (or ``astream_events`` for ``events``) and every item becomes a
:class:`GraphChunk`. The model's deltas still come from the callback, so ``messages-tuple``
costs no more than the chat API's chunks.
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
from app.runs.spec import RunSpec

Graph = CompiledStateGraph[Any, Any, Any, Any]


async def stream_graph(
    graph: Graph,
    graph_input: Any,
    config: RunnableConfig,
    spec: RunSpec,
    emit: Callable[[RunEvent], None],
) -> dict[str, Any]:
    """Run ``graph`` for ``spec`` (one that asks for the graph's own stream modes), emitting
    its stream-mode items; the state it ended with, with ``"__interrupt__"`` when it stopped on
    interrupts."""
    modes: Any = sorted(spec.graph_modes - {"events"} | {"values", "updates"})
    kwargs: dict[str, Any] = {
        "context": spec.settings,
        "durability": spec.durability,
        "subgraphs": spec.subgraphs,
    }
    if spec.interrupt_before is not None:
        kwargs["interrupt_before"] = spec.interrupt_before
    if spec.interrupt_after is not None:
        kwargs["interrupt_after"] = spec.interrupt_after
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

    if "events" in spec.graph_modes:
        # The root run's id tells its stream-mode items from the rest of the events.
        run_id = uuid.uuid4()
        config = {**config, "run_id": run_id}
        root = str(run_id)
        async for event in graph.astream_events(
            graph_input, config, version="v2", stream_mode=modes, **kwargs
        ):
            if event["event"] == "on_chain_stream" and event["run_id"] == root:
                item = event["data"]["chunk"]
                namespace, mode, data = item if spec.subgraphs else ((), *item)
                take(tuple(namespace), mode, data)
            else:
                emit(GraphChunk("events", (), event))
    else:
        async for item in graph.astream(graph_input, config, stream_mode=modes, **kwargs):
            namespace, mode, data = item if spec.subgraphs else ((), *item)
            take(tuple(namespace), mode, data)
    if interrupts:
        return {**state, "__interrupt__": interrupts}
    return state
