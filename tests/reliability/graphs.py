"""Graphs the takeover tests serve: the tool agent with one slow tool that writes down each
time it starts, with the idempotency key it ran with, so that a test can SIGKILL the replica
running it mid-tool and see the step run again, with the same key, on the replica taking over."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.graph import StateGraph

from graphs import ChatModelFactory, GraphVersion, Registry, Version, idempotency_key
from graphs.tool_agent import v1_0_0 as tool_agent
from graphs.tool_agent.agent import CONVERSATION, build_agent_graph
from tests.support.registries import chat_registry

# Where the slow tool writes a line as it starts, and how long it then takes (seconds).
TOOL_LOG = "TAKEOVER_TOOL_LOG"
TOOL_SECONDS = "TAKEOVER_TOOL_SECONDS"


def _note(line: str) -> None:
    with Path(os.environ[TOOL_LOG]).open("a") as started:
        started.write(line)


@tool
async def lookup(
    query: str, config: RunnableConfig, tool_call_id: Annotated[str, InjectedToolCallId]
) -> str:
    """Look something up, slowly."""
    key = idempotency_key(config, tool_call_id)
    await asyncio.to_thread(_note, f"{os.getpid()} {key}\n")
    await asyncio.sleep(float(os.environ.get(TOOL_SECONDS, "0")))
    return f"Found {query!r}."


def _build(models: ChatModelFactory) -> StateGraph[Any, Any, Any, Any]:
    return build_agent_graph(models, tool_agent.Settings, [lookup])


def slow_tool_registry() -> Registry:
    """streaming-chat (1.0.0, 1.1.0) and slow-agent 1.0.0."""
    registry = chat_registry()
    registry.register(
        GraphVersion(
            name="slow-agent",
            version=Version(1, 0, 0),
            settings=tool_agent.Settings,
            build=_build,
            conversation=CONVERSATION,
            description="The tool agent with one slow tool (tests only).",
        )
    )
    return registry
