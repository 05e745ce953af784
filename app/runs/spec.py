"""What a run is asked to do, as every API's binder makes it: one :class:`RunSpec`.

What differs between APIs is data here, not a second type: the chat API's binder puts the
user's message (or a ``Command`` answering an interrupt) in ``input`` and asks for none of the
graph's own stream modes, so the graph runs with ``ainvoke``; LangGraph's binder puts the
graph input as the client sent it and the modes its client asked to see. ``wire`` names the
format the run is shown and logged in (the wire package's codec picks the encoder by it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig

from graphs import GraphSettings, GraphVersion

# The graph's own stream modes a run may record; "messages-tuple" and "messages" are views of
# the model's deltas, which every run produces.
GRAPH_MODES = frozenset({"values", "updates", "custom", "debug", "events"})
MESSAGE_MODES = frozenset({"messages-tuple", "messages"})
STREAM_MODES = GRAPH_MODES | MESSAGE_MODES

Durability = Literal["sync", "async", "exit"]


@dataclass(frozen=True)
class RunSpec:
    """One run of a graph version on a thread, for a user, once every check has passed."""

    request_id: str
    thread_id: str
    user_id: str
    graph: GraphVersion
    settings: GraphSettings  # the validated graphSettings, the graph's runtime context
    input: Any  # the graph input, or a langgraph ``Command``
    received: float  # time.perf_counter() when the request arrived
    # The input's messages, with ids: what a cancel saves (replaced, not repeated, if the run
    # had saved them already).
    input_messages: Sequence[BaseMessage] = ()
    # The message the reply is read after (the user's message this run answers), if known.
    reply_after: str | None = None
    resuming: bool = False  # the input answers a pending interrupt
    agent_id: str | None = None
    # How the graph runs: the graph's own stream modes recorded as events (none: ainvoke).
    graph_modes: frozenset[str] = frozenset()
    subgraphs: bool = False
    interrupt_before: Sequence[str] | Literal["*"] | None = None
    interrupt_after: Sequence[str] | Literal["*"] | None = None
    # One checkpoint per turn by default, written when the run ends, even when it fails.
    durability: Durability = "exit"
    checkpoint: Mapping[str, Any] | None = None  # run from this checkpoint (time travel)
    configurable: Mapping[str, Any] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # How it is shown: the wire format of the API that started it, and the views it asked for.
    wire: str = "chat"
    stream_modes: tuple[str, ...] = ()
    # What the wire format needs from its request to show the run (the AI SDK's message id and
    # the tool call an approval answers, AG-UI's run id); the run itself never reads it.
    wire_context: Mapping[str, Any] = field(default_factory=dict)
    # Its records and lifecycle.
    assistant_id: str | None = None
    multitask_strategy: str = "reject"
    # What a client leaving does to the run: None is the server's ON_DISCONNECT setting.
    on_disconnect: Literal["cancel", "continue"] | None = None
    ephemeral: bool = False  # its thread is deleted once it has ended (a stateless run)
    # Which start of the run this is: above 1, a replica took it over from one that died, and
    # it goes on from the thread's last checkpoint (app.runs.takeover).
    attempt: int = 1

    def config(self) -> RunnableConfig:
        configurable: dict[str, Any] = {**self.configurable, **(self.checkpoint or {})}
        configurable["thread_id"] = self.thread_id
        metadata: dict[str, Any] = dict(self.metadata)
        if self.assistant_id is not None:
            metadata["assistant_id"] = self.assistant_id
        # Copied into every checkpoint's metadata: binds the thread to its graph and owner.
        metadata.update(
            graph_name=self.graph.name,
            graph_version=str(self.graph.version),
            user_id=self.user_id,
            request_id=self.request_id,
        )
        return {"configurable": configurable, "metadata": metadata, "run_name": self.graph.ref}
