"""Registries the tests build for themselves, so the shipped catalog can change freely."""

from __future__ import annotations

from dataclasses import replace

from graphs import Registry
from graphs.streaming_chat import v1_0_0, v1_1_0
from graphs.tool_agent import v1_0_0 as tool_agent_1_0_0


def chat_registry() -> Registry:
    """streaming-chat 1.0.0 and 1.1.0 (the default), whatever ``graphs.catalog`` lists."""
    registry = Registry()
    registry.register(replace(v1_0_0.GRAPH, default=False))
    registry.register(replace(v1_1_0.GRAPH, default=True))
    return registry


def agent_registry() -> Registry:
    """The chat registry plus tool-agent 1.0.0, whatever ``graphs.catalog`` lists."""
    registry = chat_registry()
    registry.register(tool_agent_1_0_0.GRAPH)
    return registry
