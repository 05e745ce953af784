"""Every graph version the server offers. Adding a version: one module, one line here."""

from __future__ import annotations

from graphs.registry import Registry
from graphs.streaming_chat import v1_0_0 as streaming_chat_1_0_0
from graphs.streaming_chat import v1_1_0 as streaming_chat_1_1_0


def build_registry() -> Registry:
    registry = Registry()
    registry.register(streaming_chat_1_0_0.GRAPH)
    registry.register(streaming_chat_1_1_0.GRAPH)
    return registry
