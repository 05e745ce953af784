"""Running a turn: the graph invoked on the thread, its events streamed, its reply read back.

:meth:`RunExecutor.run` hands each run event (text deltas, tool steps) to a callback as it
happens and returns the :class:`Reply`, read from the graph's state through the version's
:class:`~graphs.Conversation`; a turn that fails part-way raises an :class:`AppError`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.messages import BaseMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphRecursionError
from langgraph.graph.state import CompiledStateGraph

from app.errors import (
    InterruptPending,
    MaxStepsExceeded,
    NoPendingInterrupt,
    RunLost,
    UpstreamTimeout,
)
from app.errors.mapping import to_app_error
from app.runs.events import Interrupt, Reply, Reset, RunEvent
from app.runs.graph_modes import stream_graph
from app.runs.interrupts import read_pending
from app.runs.repair import LOST_TOOL_RESULT, close_unanswered, keep_partial, roll_back
from app.runs.spec import RunSpec
from app.runs.tap import Tap
from app.settings import Settings
from app.stores.checkpointer import Checkpointer
from graphs import GraphVersion, StepLimitExceeded

Graph = CompiledStateGraph[Any, Any, Any, Any]
log = logging.getLogger("app.turns")


class RunCancelled(Exception):
    """The turn's task was cancelled; ``reply`` holds what had streamed, already saved."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("turn cancelled")
        self.reply = reply


class RunExecutor:
    """Runs specs on the graphs compiled (with the checkpointer) at start-up."""

    def __init__(
        self,
        settings: Settings,
        graphs: Mapping[str, Graph],
        provider: str,
        checkpointer: Checkpointer,
        *,
        step_durable: bool = False,
    ) -> None:
        self._settings = settings
        self._graphs = graphs
        self._provider = provider
        self._checkpointer = checkpointer  # the graphs' own, for the checks before a run
        # Runs another replica may take over checkpoint every step, their input first: what
        # the user sent is in the thread before the model is called, and a step that finished
        # is not run again by the replica that takes over.
        self._step_durable = step_durable

    def graph(self, version: GraphVersion) -> Graph:
        """``version``'s graph, compiled with the checkpointer."""
        return self._graphs[version.ref]

    async def pending_interrupts(self, version: GraphVersion, thread_id: str) -> Sequence[Any]:
        """What the thread's graph asked and waits an answer for (LangGraph ``Interrupt``s)."""
        if not version.interrupts:
            return ()
        try:
            return await read_pending(self._checkpointer, thread_id)
        except Exception as exc:
            error = to_app_error(exc)
            if error is None:
                raise
            raise error from exc

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
        if self._step_durable and spec.durability == "exit":
            spec = dataclasses.replace(spec, durability="sync")
        kept: list[BaseMessage] = list(spec.input_messages)
        if spec.attempt > self._settings.run_max_attempts:
            await self._give_up(graph, spec, kept)
        if spec.attempt > 1:
            spec = await self._going_on(graph, spec)
            emit(Reset())
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
                await roll_back(graph, spec)
            else:
                await keep_partial(graph, spec, kept, text)
            raise RunCancelled(self._reply(spec, tap, text, None, "cancelled")) from None
        except TimeoutError:
            waited = "first token" if tap.ttft_ms is None else "whole reply"
            raise UpstreamTimeout(
                f"The model provider timed out waiting for the {waited}."
            ) from None
        except (StepLimitExceeded, GraphRecursionError) as exc:
            await close_unanswered(graph, spec)
            raise MaxStepsExceeded(
                f"The agent stopped: {exc}. The steps it finished are kept in the thread."
            ) from None
        except Exception as exc:
            await close_unanswered(graph, spec)
            error = to_app_error(exc, streaming=tap.ttft_ms is not None)
            if error is None:
                raise
            raise error from exc
        interrupts = values.get("__interrupt__") if isinstance(values, dict) else None
        answer = conversation.reply(values, spec.reply_after)
        text = answer.text if answer is not None else ""
        if spec.attempt > 1 and text and not tap.deltas:
            # Taken over after the reply was written but before it was sent: the chunks after
            # the reset still add up to the final text.
            emit(text)
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

    async def _give_up(self, graph: Graph, spec: RunSpec, kept: list[BaseMessage]) -> None:
        """A run whose replicas kept dying (RUN_MAX_ATTEMPTS): not started again. Its thread
        keeps the user's message and is made valid for the next turn."""
        log.warning("run %s lost after %d attempts", spec.request_id, spec.attempt - 1)
        await keep_partial(graph, spec, kept, "", result=LOST_TOOL_RESULT)
        raise RunLost(
            f"The servers running this request stopped {spec.attempt - 1} times before it "
            "could finish, so it was not started again (RUN_MAX_ATTEMPTS). The thread holds "
            "your message: send the next one, or the same again."
        )

    async def _going_on(self, graph: Graph, spec: RunSpec) -> RunSpec:
        """A run taken over from a replica that died: if the thread's last checkpoint is its
        own, the graph goes on from there (its finished steps are not run again); if not (it
        died before its first write), it starts again from its input."""
        saver = graph.checkpointer
        assert isinstance(saver, BaseCheckpointSaver)
        head = await saver.aget_tuple(
            {"configurable": {"thread_id": spec.thread_id, "checkpoint_ns": ""}}
        )
        if head is None or head.metadata.get("request_id") != spec.request_id:
            return spec
        log.info("run %s taken over: going on from checkpoint", spec.request_id)
        return dataclasses.replace(spec, input=None, checkpoint=None)

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
