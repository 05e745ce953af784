"""streaming-chat 1.0.0: a plain chat over the thread's conversation."""

from __future__ import annotations

from typing import Any

from langgraph.graph import StateGraph

from graphs.contract import ChatModelFactory, GraphVersion
from graphs.settings import ModelSettings
from graphs.streaming_chat.chat import CONVERSATION, build_chat_graph
from graphs.versions import Version


class Settings(ModelSettings):
    """streaming-chat 1.0.0 settings."""


def build(models: ChatModelFactory) -> StateGraph[Any, Any, Any, Any]:
    return build_chat_graph(models, Settings, lambda s: s.system_prompt)


GRAPH = GraphVersion(
    name="streaming-chat",
    version=Version(1, 0, 0),
    settings=Settings,
    build=build,
    conversation=CONVERSATION,
    description="Chat with the model; the thread keeps the conversation.",
)
