"""Running a turn: the graph invoked on the thread, its events streamed, its reply read back.

:meth:`TurnRunner.run` hands each run event (text deltas, tool steps) to a callback as it
happens and returns the :class:`Reply`, read from the graph's state through the version's
:class:`~graphs.Conversation`; a turn that fails part-way raises an :class:`AppError`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, create_checkpoint
from langgraph.errors import GraphRecursionError
from langgraph.graph.state import CompiledStateGraph

from app.errors import InterruptPending, MaxStepsExceeded, NoPendingInterrupt, UpstreamTimeout
from app.errors.mapping import to_app_error
from app.runs.events import Interrupt, Reply, RunEvent
from app.runs.graph_modes import stream_graph
from app.runs.spec import RunSpec
from app.runs.tap import Tap
from app.settings import Settings
from graphs import Conversation, GraphVersion, StepLimitExceeded

Graph = CompiledStateGraph[Any, Any, Any, Any]
log = logging.getLogger("app.turns")

# What a tool call cut short by a cancel gets as its result, so the thread stays valid for
# the next turn (a chat-completions request with a tool call but no result is refused).
CANCELLED_TOOL_RESULT = "Cancelled: the user stopped this turn before the tool finished."
FAILED_TOOL_RESULT = "Not run: the turn failed before this tool call finished."


class RunCancelled(Exception):
    """The turn's task was cancelled; ``reply`` holds what had streamed, already saved."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("turn cancelled")
        self.reply = reply


class RunExecutor:
    """Runs turns on the graphs compiled (with the checkpointer) at start-up."""

    def __init__(self, settings: Settings, graphs: Mapping[str, Graph], provider: str) -> None:
        self._settings = settings
        self._graphs = graphs
        self._provider = provider

    def graph(self, version: GraphVersion) -> Graph:
        """``version``'s graph, compiled with the checkpointer."""
        return self._graphs[version.ref]

    async def pending_interrupts(self, version: GraphVersion, thread_id: str) -> Sequence[Any]:
        """What the thread's graph asked and waits an answer for (LangGraph ``Interrupt``s)."""
        if not version.interrupts:
            return ()
        graph = self._graphs[version.ref]
        try:
            snapshot = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        except Exception as exc:
            error = to_app_error(exc)
            if error is None:
                raise
            raise error from exc
        return snapshot.interrupts

    async def check_interrupts(self, spec: RunSpec) -> None:
        """Refuse a ``resume`` with nothing to answer, and a new message while the graph is
        waiting for an answer."""
        pending = await self.pending_interrupts(spec.graph, spec.thread_id)
        if spec.resuming and not pending:
            raise NoPendingInterrupt(
                f"thread {spec.thread_id!r} has no pending interrupt to resume; send a "
                "'message' instead"
            )
        if not spec.resuming and pending:
            first = pending[0]
            raise InterruptPending(
                f"thread {spec.thread_id!r} is waiting for an answer to an interrupt; send "
                'the same thread with \'resume\' (e.g. "resume": "approve" or "decline") '
                "instead of 'message'",
                details={"interrupt": {"id": first.id, "value": first.value}},
            )

    async def run(
        self,
        spec: RunSpec,
        emit: Callable[[RunEvent], None],
        *,
        rollback: Callable[[], bool] = lambda: False,
    ) -> Reply:
        """Run the turn, handing each run event to ``emit`` as it happens.

        ``emit`` is called on the event loop from inside the model's and tools' callbacks, so
        it must be quick and must not raise. If the turn is cancelled and ``rollback()`` says
        so, the thread goes back to where it was before the turn instead of keeping what was
        streamed.
        """
        graph = self._graphs[spec.graph.ref]
        conversation = spec.graph.conversation
        kept: list[BaseMessage] = list(spec.input_messages)
        loop = asyncio.get_running_loop()
        start = loop.time()
        tap = Tap(emit, conversation.stream_nodes, spec.received)
        config = spec.config()
        config["callbacks"] = [tap]
        try:
            # One timeout for the whole turn, moved once at the first token, rather than a new
            # one around every chunk.
            async with asyncio.timeout_at(start + self._settings.upstream_first_token_timeout) as (
                timeout
            ):
                tap.on_first = lambda: timeout.reschedule(start + self._settings.upstream_timeout)
                if spec.graph_modes:
                    values = await stream_graph(graph, spec.input, config, spec, emit)
                else:
                    values = await graph.ainvoke(
                        spec.input, config, context=spec.settings, durability=spec.durability
                    )
        except asyncio.CancelledError:
            # Cancelled by request or by a client that left: keep what was streamed, so the
            # thread reads as the client saw it, then report the partial reply.
            text = tap.text()
            if rollback():
                await self._roll_back(spec)
            else:
                await self._keep_partial(spec, kept, text)
            raise RunCancelled(self._reply(spec, tap, text, None, "cancelled")) from None
        except TimeoutError:
            waited = "first token" if tap.ttft_ms is None else "whole reply"
            raise UpstreamTimeout(
                f"The model provider timed out waiting for the {waited}."
            ) from None
        except (StepLimitExceeded, GraphRecursionError) as exc:
            await self._close_unanswered(spec)
            raise MaxStepsExceeded(
                f"The agent stopped: {exc}. The steps it finished are kept in the thread."
            ) from None
        except Exception as exc:
            await self._close_unanswered(spec)
            error = to_app_error(exc, streaming=tap.ttft_ms is not None)
            if error is None:
                raise
            raise error from exc
        interrupts = values.get("__interrupt__") if isinstance(values, dict) else None
        answer = conversation.reply(values, spec.reply_after)
        text = answer.text if answer is not None else ""
        metadata = answer.response_metadata if answer is not None else {}
        if interrupts:
            first = interrupts[0]
            return self._reply(
                spec,
                tap,
                text,
                metadata.get("model_name"),
                "interrupted",
                Interrupt(first.id, first.value, tap.interrupted_step),
            )
        return self._reply(
            spec, tap, text, metadata.get("model_name"), metadata.get("finish_reason")
        )

    def _reply(
        self,
        spec: RunSpec,
        tap: Tap,
        text: str,
        model: str | None,
        finish_reason: str | None,
        interrupt: Interrupt | None = None,
    ) -> Reply:
        return Reply(
            text=text,
            model=model,
            provider=self._provider,
            usage=dict(tap.usage) if tap.usage else None,  # type: ignore[arg-type]
            finish_reason=finish_reason,
            ttft_ms=tap.ttft_ms,
            total_ms=(time.perf_counter() - spec.received) * 1000,
            steps=tuple(tap.steps),
            attachments=tuple(tap.attachments),
            interrupt=interrupt,
            text_deltas=tap.deltas,
        )

    async def _close_unanswered(self, spec: RunSpec) -> None:
        """After a failed turn, make the thread valid for its next request to a model."""
        graph = self._graphs[spec.graph.ref]
        conversation = spec.graph.conversation
        try:
            values = (await graph.aget_state(spec.config())).values
            fixes = _repairs(conversation, values, spec.reply_after, FAILED_TOOL_RESULT)
            if fixes:
                await graph.aupdate_state(
                    spec.config(), conversation.update(fixes), as_node=conversation.reply_node
                )
        except Exception:
            log.exception("could not close the tool calls of failed turn %s", spec.request_id)

    async def _roll_back(self, spec: RunSpec) -> None:
        """Put the thread back as it was before ``turn``: a copy of its latest checkpoint from
        before the turn becomes the head (so history still shows what happened), or, for a
        thread the turn began, the thread goes."""
        graph = self._graphs[spec.graph.ref]
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

    async def _keep_partial(self, spec: RunSpec, kept: list[BaseMessage], text: str) -> None:
        """Save the user's message (``kept``: the turn's input messages) and the partial
        reply as the turn's outcome, and make the thread valid for its next request to a
        model (as after a failure).

        Message ids make this idempotent: if the cancelled run had saved the user's message,
        it is replaced, not repeated.
        """
        graph = self._graphs[spec.graph.ref]
        conversation = spec.graph.conversation
        try:
            values = (await graph.aget_state(spec.config())).values
            fixes = _repairs(conversation, values, spec.reply_after, CANCELLED_TOOL_RESULT)
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
