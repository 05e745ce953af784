"""The streaming-chat graph shared by its versions: one node that calls the chat model.

A version supplies its settings model and how those settings become a system prompt; the
graph keeps only the conversation in its state, so the system prompt is applied on each call
and never stored in the thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from langchain_core.messages import BaseMessage, SystemMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime

from graphs.contract import ChatModelFactory, Conversation
from graphs.settings import ModelSettings

NODE = "chat"
# The one node streams the reply and writes it.
CONVERSATION = Conversation(stream_nodes=[NODE])

S = TypeVar("S", bound=ModelSettings)


def build_chat_graph(
    models: ChatModelFactory,
    settings_type: type[S],
    system_prompt: Callable[[S], str | None],
) -> StateGraph[Any, Any, Any, Any]:
    """A ``StateGraph`` over the conversation with one node that calls the model."""

    async def chat(state: MessagesState, runtime: Runtime[S]) -> dict[str, list[BaseMessage]]:
        settings = runtime.context if runtime.context is not None else settings_type()
        messages: list[BaseMessage] = list(state["messages"])
        prompt = system_prompt(settings)
        if prompt:
            messages.insert(0, SystemMessage(prompt))
        reply = await settings.chat_model(models).ainvoke(messages)
        return {"messages": [reply]}

    graph = StateGraph(MessagesState, context_schema=settings_type)
    graph.add_node(NODE, chat)
    graph.add_edge(START, NODE)
    graph.add_edge(NODE, END)
    return graph
