"""A real compiled LangGraph graph keeps its memory in RedisSaver."""

from __future__ import annotations

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph

from redis_saver import RedisSaver


def _reply(state: MessagesState) -> dict[str, list[AIMessage]]:
    return {"messages": [AIMessage("pong")]}


def _graph(saver: RedisSaver) -> CompiledStateGraph[MessagesState]:
    builder = StateGraph(MessagesState)
    builder.add_node("reply", _reply)
    builder.add_edge(START, "reply")
    return builder.compile(checkpointer=saver)


THREAD: RunnableConfig = {"configurable": {"thread_id": "chat-1"}}


async def test_graph_when_two_turns_then_second_sees_first(redis_db: str) -> None:
    """Turn two starts from turn one's messages, also through a new saver and client."""
    async with RedisSaver.from_url(redis_db) as saver:
        await _graph(saver).ainvoke({"messages": [HumanMessage("ping 1")]}, THREAD)
    async with RedisSaver.from_url(redis_db) as saver:
        result = await _graph(saver).ainvoke({"messages": [HumanMessage("ping 2")]}, THREAD)
        history = [t async for t in saver.alist(THREAD)]

    assert [m.content for m in result["messages"]] == ["ping 1", "pong", "ping 2", "pong"]
    assert len(history) == 6  # input, after __start__, after reply: per turn


async def test_graph_when_history_dropped_then_memory_kept_in_one_checkpoint(
    redis_db: str,
) -> None:
    """keep_history=False still carries the conversation, in a single stored checkpoint."""
    async with RedisSaver.from_url(redis_db, keep_history=False) as saver:
        graph = _graph(saver)
        await graph.ainvoke({"messages": [HumanMessage("ping 1")]}, THREAD)
        result = await graph.ainvoke({"messages": [HumanMessage("ping 2")]}, THREAD)
        state = await graph.aget_state(THREAD)
        history = [t async for t in saver.alist(THREAD)]

    assert [m.content for m in result["messages"]] == ["ping 1", "pong", "ping 2", "pong"]
    assert len(state.values["messages"]) == 4
    assert len(history) == 1
