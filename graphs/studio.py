"""Graphs for LangGraph Studio (``langgraph dev``), compiled without a checkpointer.

``langgraph.json`` names a factory here per graph version (``streaming_chat__1_0_0``); the dev
server calls it, so nothing is built at import. The model comes from the
environment as for the server: ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``, else the offline
model.
"""

from __future__ import annotations

import os
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from pydantic import SecretStr

from graphs.catalog import build_registry
from graphs.models import Upstream, model_factory


def attribute_name(ref: str) -> str:
    """``streaming-chat::1.0.0`` -> ``streaming_chat__1_0_0``."""
    name, _, version = ref.partition("::")
    return f"{name.replace('-', '_')}__{version.replace('.', '_')}"


def studio_graph(ref: str) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph version ``ref`` compiled for Studio (the dev server brings its own memory)."""
    graph = build_registry().resolve(ref)
    key = os.environ.get("OPENAI_API_KEY")
    upstream = Upstream(
        api_key=SecretStr(key) if key else None,
        base_url=os.environ.get("OPENAI_BASE_URL") or None,
    )
    return graph.build(model_factory(upstream)).compile(name=graph.ref)


# One factory per version, named by attribute_name(); langgraph.json points at each.
def streaming_chat__1_0_0() -> CompiledStateGraph[Any, Any, Any, Any]:
    return studio_graph("streaming-chat::1.0.0")


def streaming_chat__1_1_0() -> CompiledStateGraph[Any, Any, Any, Any]:
    return studio_graph("streaming-chat::1.1.0")
