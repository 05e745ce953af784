"""The tool-agent graph: a model node that may call tools, and LangGraph's ``ToolNode``."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any

from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.tools import BaseTool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.runtime import Runtime
from pydantic import Field

from graphs.contract import ChatModelFactory, Conversation, StepLimitExceeded
from graphs.settings import ModelSettings
from graphs.tool_agent.tools import TOOLS

AGENT = "agent"
TOOLS_NODE = "tools"
# The model node streams its text and writes the answer.
CONVERSATION = Conversation(stream_nodes=[AGENT])

SYSTEM_PROMPT = (
    "You are a helpful assistant with tools. Use calculator for arithmetic, current_time for "
    "the time, search_docs for questions about this agent server, and save_note when the user "
    "asks you to remember or note something. Answer briefly once you have what you need."
)


class AgentSettings(ModelSettings):
    """Settings of every tool-agent version."""

    max_steps: int = Field(
        5, alias="maxSteps", ge=1, le=25, description="Most tool-calling rounds in one turn"
    )


class AgentState(MessagesState):
    # Notes the user approved, kept with the thread.
    notes: Annotated[list[dict[str, Any]], operator.add]


def tool_rounds(messages: list[BaseMessage]) -> int:
    """Model replies that called tools since the user last spoke."""
    rounds = 0
    for message in reversed(messages):
        if message.type == "human":
            break
        if isinstance(message, AIMessage) and message.tool_calls:
            rounds += 1
    return rounds


def tool_error_message(error: Exception) -> str:
    """What the model is told when a tool fails: the error, plainly."""
    return f"Error: {error}"


def build_agent_graph(
    models: ChatModelFactory,
    settings_type: type[AgentSettings],
    tools: Sequence[BaseTool] = TOOLS,
) -> StateGraph[Any, Any, Any, Any]:
    """START -> agent -> (tools -> agent)* -> END."""

    async def agent(state: AgentState, runtime: Runtime[AgentSettings]) -> dict[str, Any]:
        settings = runtime.context if runtime.context is not None else settings_type()
        messages: list[BaseMessage] = list(state["messages"])
        prompt = "\n\n".join(p for p in (SYSTEM_PROMPT, settings.system_prompt) if p)
        llm = settings.chat_model(models).bind_tools(tools)
        reply = await llm.ainvoke([SystemMessage(prompt), *messages])
        calls_tools = isinstance(reply, AIMessage) and bool(reply.tool_calls)
        if calls_tools and tool_rounds(messages) >= settings.max_steps:
            # Not written: the thread keeps only complete steps.
            raise StepLimitExceeded(
                f"the agent wanted more than {settings.max_steps} tool steps "
                "(graphSettings.maxSteps) for this message"
            )
        return {"messages": [reply]}

    graph = StateGraph(AgentState, context_schema=settings_type)
    graph.add_node(AGENT, agent)
    # Tool errors go back to the model as error results instead of failing the turn.
    graph.add_node(TOOLS_NODE, ToolNode(tools, handle_tool_errors=tool_error_message))
    graph.add_edge(START, AGENT)
    graph.add_conditional_edges(AGENT, tools_condition, {"tools": TOOLS_NODE, END: END})
    graph.add_edge(TOOLS_NODE, AGENT)
    return graph
