"""Running a turn: the graph invoked on the thread, its text streamed, its reply read back.

:meth:`TurnRunner.run` hands each text delta to a callback as the model writes it and returns
the :class:`Reply`, read from the graph's state through the version's
:class:`~graphs.Conversation`; a turn that fails part-way raises an :class:`AppError`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph.state import CompiledStateGraph

from app.error_map import to_app_error
from app.errors import UpstreamTimeout
from app.events import Reply
from app.reply_tap import ReplyTap
from app.settings import Settings
from app.turn import Turn

Graph = CompiledStateGraph[Any, Any, Any, Any]
log = logging.getLogger("app.turns")


class TurnCancelled(Exception):
    """The turn's task was cancelled; ``reply`` holds what had streamed, already saved."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("turn cancelled")
        self.reply = reply


class TurnRunner:
    """Runs turns on the graphs compiled (with the checkpointer) at start-up."""

    def __init__(self, settings: Settings, graphs: Mapping[str, Graph], provider: str) -> None:
        self._settings = settings
        self._graphs = graphs
        self._provider = provider

    async def run(self, turn: Turn, emit: Callable[[str], None]) -> Reply:
        """Run the turn, handing each non-empty text delta to ``emit`` as it arrives.

        ``emit`` is called on the event loop from inside the model's token callback, so it must
        be quick and must not raise.
        """
        graph = self._graphs[turn.graph.ref]
        conversation = turn.graph.conversation
        message = HumanMessage(turn.content, id=turn.message_id)
        loop = asyncio.get_running_loop()
        start = loop.time()
        tap = ReplyTap(emit, conversation.stream_nodes, turn.received)
        config = turn.config()
        config["callbacks"] = [tap]
        try:
            # One timeout for the whole turn, moved once at the first token, rather than a new
            # one around every chunk.
            async with asyncio.timeout_at(start + self._settings.upstream_first_token_timeout) as (
                timeout
            ):
                tap.on_first = lambda: timeout.reschedule(start + self._settings.upstream_timeout)
                values = await graph.ainvoke(
                    conversation.input(message),
                    config,
                    context=turn.settings,
                    # One checkpoint per turn, written when the run ends, even when it fails.
                    durability="exit",
                )
        except asyncio.CancelledError:
            # Cancelled by request or by a client that left: keep what was streamed, so the
            # thread reads as the client saw it, then report the partial reply.
            text = tap.text()
            await self._keep_partial(turn, message, text)
            raise TurnCancelled(self._reply(turn, tap, text, None, "cancelled")) from None
        except TimeoutError:
            waited = "first token" if tap.ttft_ms is None else "whole reply"
            raise UpstreamTimeout(
                f"The model provider timed out waiting for the {waited}."
            ) from None
        except Exception as exc:
            error = to_app_error(exc, streaming=tap.ttft_ms is not None)
            if error is None:
                raise
            raise error from exc
        answer = conversation.reply(values, turn.message_id)
        if answer is None:
            return self._reply(turn, tap, "", None, None)
        metadata = answer.response_metadata
        return self._reply(
            turn, tap, answer.text, metadata.get("model_name"), metadata.get("finish_reason")
        )

    def _reply(
        self,
        turn: Turn,
        tap: ReplyTap,
        text: str,
        model: str | None,
        finish_reason: str | None,
    ) -> Reply:
        return Reply(
            text=text,
            model=model,
            provider=self._provider,
            usage=dict(tap.usage) if tap.usage else None,  # type: ignore[arg-type]
            finish_reason=finish_reason,
            ttft_ms=tap.ttft_ms,
            total_ms=(time.perf_counter() - turn.received) * 1000,
        )

    async def _keep_partial(self, turn: Turn, message: HumanMessage, text: str) -> None:
        """Save the user's message and the partial reply as the turn's outcome.

        Message ids make this idempotent: if the cancelled run had saved the user's message,
        it is replaced, not repeated.
        """
        graph = self._graphs[turn.graph.ref]
        conversation = turn.graph.conversation
        try:
            # The cancel may land after the last token, while the run's own exit checkpoint
            # (holding the whole reply) is being written: then there is nothing to add.
            saved = conversation.messages((await graph.aget_state(turn.config())).values)
            ids = [m.id for m in saved]
            if message.id in ids and ids.index(message.id) < len(ids) - 1:
                return
            messages: list[Any] = [message]
            if text:
                messages.append(AIMessage(text, id=f"{turn.request_id}:assistant"))
            await graph.aupdate_state(
                turn.config(), conversation.update(messages), as_node=conversation.reply_node
            )
        except Exception:
            log.exception("could not save the partial reply of %s", turn.request_id)
