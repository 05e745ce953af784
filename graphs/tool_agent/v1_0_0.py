"""tool-agent 1.0.0: calculator, current_time, search_docs and save_note (with approval)."""

from __future__ import annotations

from typing import Any

from langgraph.graph import StateGraph

from graphs.contract import ChatModelFactory, GraphVersion
from graphs.tool_agent.agent import CONVERSATION, AgentSettings, build_agent_graph
from graphs.versions import Version


class Settings(AgentSettings):
    """tool-agent 1.0.0 settings."""


def build(models: ChatModelFactory) -> StateGraph[Any, Any, Any, Any]:
    return build_agent_graph(models, Settings)


GRAPH = GraphVersion(
    name="tool-agent",
    version=Version(1, 0, 0),
    settings=Settings,
    build=build,
    conversation=CONVERSATION,
    description="An agent with tools: calculator, current time, docs search, notes (approved).",
    default=True,
    interrupts=True,
)
