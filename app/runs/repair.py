"""Repairs after a run that did not end well, so that its thread stays valid and says what
happened: a cancelled run keeps the user's message and what was streamed; a failed one gets an
error result for every tool call left without one (a chat-completions request with a tool call
but no result is refused); a rollback puts the thread back as it was before the run."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, create_checkpoint
from langgraph.graph import END
from langgraph.graph.state import CompiledStateGraph

from app.runs.spec import RunSpec
from graphs import Conversation

Graph = CompiledStateGraph[Any, Any, Any, Any]
log = logging.getLogger("app.runs")

# What a tool call cut short by a cancel gets as its result, so the thread stays valid for
# the next turn (a chat-completions request with a tool call but no result is refused).
CANCELLED_TOOL_RESULT = "Cancelled: the user stopped this turn before the tool finished."
FAILED_TOOL_RESULT = "Not run: the turn failed before this tool call finished."
LOST_TOOL_RESULT = "Not run: the server running this turn stopped before this tool call finished."


async def settled_values(graph: Graph, spec: RunSpec) -> dict[str, Any]:
    """The thread's values once the steps that finished are in its checkpoint.

    A run that checkpoints every step (``durability="sync"``, as runs another replica may take
    over do) and is cut short mid-superstep leaves the writes of the tasks that finished as
    pending writes: ``aget_state`` shows them, but the checkpoint does not hold them, and the
    next input would drop them. Committing them first (LangGraph's "clear the tasks" update:
    no values, ``as_node=END``) makes the repair's view the thread's."""
    snapshot = await graph.aget_state(spec.config())
    if any(task.result is not None for task in snapshot.tasks):
        await graph.aupdate_state(spec.config(), None, as_node=END)
        snapshot = await graph.aget_state(spec.config())
    return dict(snapshot.values)


async def close_unanswered(graph: Graph, spec: RunSpec) -> None:
    """After a failed turn, make the thread valid for its next request to a model."""
    conversation = spec.graph.conversation
    try:
        values = await settled_values(graph, spec)
        fixes = _repairs(conversation, values, spec.reply_after, FAILED_TOOL_RESULT)
        if fixes:
            await graph.aupdate_state(
                spec.config(), conversation.update(fixes), as_node=conversation.reply_node
            )
    except Exception:
        log.exception("could not close the tool calls of failed turn %s", spec.request_id)


async def roll_back(graph: Graph, spec: RunSpec) -> None:
    """Put the thread back as it was before ``spec``'s run: a copy of its latest checkpoint
    from before the run becomes the head (so history still shows what happened), or, for a
    thread the run began, the thread goes."""
    saver = graph.checkpointer
    assert isinstance(saver, BaseCheckpointSaver)
    config = spec.config()
    head_config: RunnableConfig = {
        "configurable": {"thread_id": spec.thread_id, "checkpoint_ns": ""}
    }
    try:
        head = await saver.aget_tuple(head_config)
        before = None
        async for saved in saver.alist(head_config):
            if saved.metadata.get("request_id") != spec.request_id:
                before = saved
                break
        if before is None and getattr(saver, "keep_history", True) is False:
            # Only the latest checkpoint is kept (REDIS_KEEP_HISTORY=false): what came
            # before the turn is not there to go back to, so nothing is thrown away.
            log.warning("no history to roll %s back to; its thread is left", spec.request_id)
            return
        if head is None or before is None:  # the turn began the thread
            await saver.adelete_thread(spec.thread_id)
            return
        step = int(head.metadata.get("step") or 0) + 1
        checkpoint = create_checkpoint(before.checkpoint, None, step)
        # Not LangGraph's "__copy__" update, which writes no metadata of ours: the copy
        # carries the thread's binding (owner, graph) like any of its checkpoints.
        metadata = {**config["metadata"], "request_id": f"{spec.request_id}:rollback"}
        await saver.aput(
            {**head.config, "metadata": metadata},
            checkpoint,
            {"source": "fork", "step": step, "parents": {}},
            dict(checkpoint["channel_versions"]),
        )
    except Exception:
        log.exception("could not roll back the thread of %s", spec.request_id)


async def keep_partial(
    graph: Graph,
    spec: RunSpec,
    kept: list[BaseMessage],
    text: str,
    *,
    result: str = CANCELLED_TOOL_RESULT,
) -> None:
    """Save the user's message (``kept``: the turn's input messages) and the partial
    reply as the turn's outcome, and make the thread valid for its next request to a
    model (as after a failure).

    Message ids make this idempotent: if the cancelled run had saved the user's message,
    it is replaced, not repeated.
    """
    conversation = spec.graph.conversation
    try:
        values = await settled_values(graph, spec)
        fixes = _repairs(conversation, values, spec.reply_after, result)
        # The cancel may land after the last token, while the run's own exit checkpoint
        # (holding the whole reply) is being written: then there is nothing to add.
        saved_ids = {m.id for m in conversation.messages(values)}
        if all(m.id in saved_ids for m in kept):
            done = conversation.turn_messages(values, spec.reply_after)
            last = done[-1] if done else None
            if isinstance(last, AIMessage) and not last.tool_calls and not fixes:
                return
        messages: list[BaseMessage] = list(kept)
        messages.extend(fixes)
        if text:
            messages.append(AIMessage(text, id=f"{spec.request_id}:assistant"))
        if not messages:
            return
        await graph.aupdate_state(
            spec.config(), conversation.update(messages), as_node=conversation.reply_node
        )
    except Exception:
        log.exception("could not save the partial reply of %s", spec.request_id)


def _repairs(
    conversation: Conversation, values: Mapping[str, Any], message_id: str | None, result: str
) -> list[BaseMessage]:
    """What makes a saved thread valid for its next chat-completions request after a turn
    that did not end well: the turn's AI messages rewritten without the tool calls that have
    no id (a stream the client could not merge), then an error ``result`` for every call left
    without one (a request with a tool call but no result is refused)."""
    fixes: list[BaseMessage] = []
    for message in conversation.turn_messages(values, message_id):
        if isinstance(message, AIMessage) and (
            message.invalid_tool_calls or any(not c.get("id") for c in message.tool_calls)
        ):
            kept = [c for c in message.tool_calls if c.get("id")]
            fixes.append(message.model_copy(update={"tool_calls": kept, "invalid_tool_calls": []}))
    by_id = {m.id: m for m in fixes}
    saved = [by_id.get(m.id, m) for m in conversation.messages(values)]
    fixes.extend(
        ToolMessage(result, tool_call_id=call_id, name=name, status="error")
        for call_id, name in _unanswered_tool_calls(saved)
    )
    return fixes


def _unanswered_tool_calls(messages: Sequence[BaseMessage]) -> list[tuple[str, str]]:
    """Tool calls of the conversation's AI messages that have no tool result yet."""
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    unanswered: list[tuple[str, str]] = []
    for message in messages:
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                call_id = call.get("id")
                if call_id and call_id not in answered:
                    unanswered.append((call_id, call["name"]))
    return unanswered
