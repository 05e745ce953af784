"""Graphs for LangGraph Studio (``langgraph dev``), compiled without a checkpointer.

Every registered version gets a factory here, named by :func:`attribute_name`
(``streaming-chat::1.0.0`` -> ``streaming_chat__1_0_0``), derived from the registry when the
dev server imports this module; ``langgraph.json`` names each one and is written by
``python -m studio`` (``make langgraph.json``). The dev server calls a factory when it needs
the graph, so no graph is built at import. The model comes from the environment as for the
server: ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``, else the offline model; ``MODEL_CLIENT``
picks the fast or the stock client.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from langgraph.graph.state import CompiledStateGraph
from pydantic import SecretStr

from graphs import Registry, build_registry
from model_client import ModelFactory, Upstream, model_factory

Factory = Callable[[], CompiledStateGraph[Any, Any, Any, Any]]


def attribute_name(ref: str) -> str:
    """``streaming-chat::1.0.0`` -> ``streaming_chat__1_0_0``."""
    name, _, version = ref.partition("::")
    return f"{name.replace('-', '_')}__{version.replace('.', '_')}"


def models_from_environment() -> ModelFactory:
    """The model client the server would build from the same environment variables."""
    key = os.environ.get("OPENAI_API_KEY")
    client = os.environ.get("MODEL_CLIENT", "fast")
    return model_factory(
        Upstream(
            api_key=SecretStr(key) if key else None,
            base_url=os.environ.get("OPENAI_BASE_URL") or None,
            client="stock" if client == "stock" else "fast",
        )
    )


def studio_graph(
    ref: str, registry: Registry | None = None, models: ModelFactory | None = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The graph version ``ref`` compiled for Studio (the dev server brings its own memory)."""
    graph = (registry or build_registry()).resolve(ref)
    return graph.build(models or models_from_environment()).compile(name=graph.ref)


def factories(registry: Registry) -> dict[str, Factory]:
    """One zero-argument factory per registered version, by attribute name."""

    def factory(ref: str) -> Factory:
        def build() -> CompiledStateGraph[Any, Any, Any, Any]:
            return studio_graph(ref)

        build.__name__ = attribute_name(ref)
        return build

    return {attribute_name(v.ref): factory(v.ref) for v in registry}


def langgraph_config(registry: Registry) -> dict[str, Any]:
    """What ``langgraph.json`` holds for ``registry``."""
    return {
        "dependencies": ["."],
        "graphs": {
            f"{v.name}-{v.version}": f"./studio/exports.py:{attribute_name(v.ref)}"
            for v in registry
        },
        "python_version": "3.11",
    }


# The dev server looks graphs up in this module's namespace, so they are put there.
globals().update(factories(build_registry()))
