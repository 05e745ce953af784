"""A turn: one validated request, bound to a graph version and a thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig

from graphs import GraphSettings, GraphVersion


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

    @property
    def message_id(self) -> str | None:
        # A client retrying a request id replaces its own message instead of adding a copy.
        return None if self.resuming else f"{self.request_id}:user"

    def config(self) -> RunnableConfig:
        return {
            "configurable": {"thread_id": self.thread_id},
            # Copied into every checkpoint's metadata: binds the thread to its graph and owner.
            "metadata": {
                "graph_name": self.graph.name,
                "graph_version": str(self.graph.version),
                "user_id": self.user_id,
                "request_id": self.request_id,
            },
            "run_name": self.graph.ref,
        }
