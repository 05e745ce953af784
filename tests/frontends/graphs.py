"""A graph whose interrupt no tool raises: it asks the user for a city before it answers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graphs import GraphVersion, Registry
from graphs.contract import ChatModelFactory, Conversation
from graphs.settings import ModelSettings
from graphs.versions import Version
from tests.support.registries import agent_registry

QUESTION = {"question": "Which city?", "type": "input"}


def _build(models: ChatModelFactory) -> StateGraph[Any, Any, Any, Any]:
    async def ask(state: MessagesState) -> dict[str, list[BaseMessage]]:
        city = interrupt(QUESTION)
        return {"messages": [HumanMessage(f"The city is {city}.")]}

    async def chat(
        state: MessagesState, runtime: Runtime[ModelSettings]
    ) -> dict[str, list[BaseMessage]]:
        settings = runtime.context if runtime.context is not None else ModelSettings()
        return {"messages": [await settings.chat_model(models).ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState, context_schema=ModelSettings)
    graph.add_node("ask", ask)
    graph.add_node("chat", chat)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", "chat")
    graph.add_edge("chat", END)
    return graph


ASK_CITY = GraphVersion(
    name="ask-city",
    version=Version(1, 0, 0),
    settings=ModelSettings,
    build=_build,
    conversation=Conversation(stream_nodes=["chat"]),
    interrupts=True,
    description="Asks which city, then answers.",
)


def frontend_registry() -> Registry:
    """streaming-chat, tool-agent and ask-city."""
    registry = agent_registry()
    registry.register(replace(ASK_CITY))
    return registry
