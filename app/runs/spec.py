"""A turn: one validated request, bound to a graph version and a thread."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

from graphs import GraphSettings, GraphVersion

# The graph's own stream modes a LangGraph API run may ask for; "messages-tuple" and
# "messages" are views of the model's deltas, which every run produces.
GRAPH_MODES = frozenset({"values", "updates", "custom", "debug", "events"})
MESSAGE_MODES = frozenset({"messages-tuple", "messages"})
STREAM_MODES = GRAPH_MODES | MESSAGE_MODES


@dataclass(frozen=True)
class GraphRun:
    """What a LangGraph API run asks for beyond a turn of the seed API: the graph input as
    LangGraph takes it, the stream modes to show, and how to run the graph."""

    assistant_id: str
    input: Any  # the graph input, or a langgraph ``Command``
    stream_modes: tuple[str, ...] = ("values",)
    # The input's messages, with ids: what a cancel saves, as the seed saves its message.
    input_messages: Sequence[BaseMessage] = ()
    subgraphs: bool = False
    interrupt_before: Sequence[str] | Literal["*"] | None = None
    interrupt_after: Sequence[str] | Literal["*"] | None = None
    durability: Literal["sync", "async", "exit"] = "async"
    checkpoint: Mapping[str, Any] | None = None  # run from this checkpoint (time travel)
    configurable: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    multitask_strategy: str = "reject"
    stateless: bool = False  # POST /runs/...: a thread of its own, deleted afterwards

    @property
    def graph_modes(self) -> frozenset[str]:
        return GRAPH_MODES.intersection(self.stream_modes)


@dataclass(frozen=True)
class Turn:
    """What a request asks for once every check has passed."""

    request_id: str
    thread_id: str
    user_id: str
    agent_id: str | None
    graph: GraphVersion
    settings: GraphSettings
    content: str | None  # None when the turn answers an interrupt (``resume``)
    received: float  # time.perf_counter() when the request arrived
    resume: Any = None  # what answers the pending interrupt, when ``resuming``
    resuming: bool = False
    graph_run: GraphRun | None = None  # a run of the LangGraph API
    # What a client leaving does to the run: None is the server's ON_DISCONNECT setting.
    on_disconnect: Literal["cancel", "continue"] | None = None

    @property
    def message_id(self) -> str | None:
        # A client retrying a request id replaces its own message instead of adding a copy.
        if self.resuming or self.graph_run is not None:
            return None
        return f"{self.request_id}:user"

    def config(self) -> RunnableConfig:
        configurable: dict[str, Any] = {"thread_id": self.thread_id}
        metadata: dict[str, Any] = {}
        graph_run = self.graph_run
        if graph_run is not None:
            configurable = {**graph_run.configurable, **(graph_run.checkpoint or {})}
            configurable["thread_id"] = self.thread_id
            metadata = {**graph_run.metadata, "assistant_id": graph_run.assistant_id}
        # Copied into every checkpoint's metadata: binds the thread to its graph and owner.
        metadata.update(
            graph_name=self.graph.name,
            graph_version=str(self.graph.version),
            user_id=self.user_id,
            request_id=self.request_id,
        )
        return {"configurable": configurable, "metadata": metadata, "run_name": self.graph.ref}
