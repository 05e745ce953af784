"""A chat turn: checked before the response starts, then run as a stream of text deltas.

Everything that can be refused (body, graph, settings, thread) is refused in :meth:`Turns.prepare`
so the client gets a real status code; :meth:`Turns.run` then hands the reply's text deltas to a
callback as they arrive and returns the whole :class:`Reply`, raising an :class:`AppError` if
the turn fails part-way.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.graph.state import CompiledStateGraph

# LangGraph's handler behind stream_mode="messages"; private, so langgraph is pinned and
# tests/e2e cover what it yields (chunks, nostream tags, subgraphs).
from langgraph.pregel._messages import StreamMessagesHandler
from pydantic import ValidationError

from app.errors import (
    GraphNotFound,
    ThreadGraphMismatch,
    ThreadNotFound,
    UpstreamTimeout,
    ValidationFailed,
)
from app.persistence.factory import Checkpointer
from app.schemas import ChatRequest
from app.settings import Settings
from app.upstream import to_app_error
from graphs import ChatModelFactory, GraphSettings, GraphVersion, Registry
from graphs.registry import UnknownGraph
from graphs.versions import InvalidReference, Reference

Graph = CompiledStateGraph[Any, Any, Any, Any]
log = logging.getLogger("app.turns")


@dataclass(frozen=True)
class Turn:
    """One validated request, bound to a graph version and a thread."""

    request_id: str
    thread_id: str
    user_id: str
    agent_id: str | None
    graph: GraphVersion
    settings: GraphSettings
    content: str
    received: float  # time.perf_counter() when the request arrived

    def config(self) -> RunnableConfig:
        return {
            "configurable": {"thread_id": self.thread_id},
            # Copied into every checkpoint's metadata: binds the thread to its graph and owner.
            "metadata": {
                "graph_name": self.graph.name,
                "graph_version": str(self.graph.version),
                "user_id": self.user_id,
                "request_id": self.request_id,
            },
            "run_name": self.graph.ref,
        }


class TurnCancelled(Exception):
    """The turn's task was cancelled; ``reply`` holds what had streamed, already saved."""

    def __init__(self, reply: Reply) -> None:
        super().__init__("turn cancelled")
        self.reply = reply


@dataclass
class Reply:
    """What a turn produced; becomes the ``final`` frame and the ``/generate`` body."""

    text: str
    model: str | None
    usage: Mapping[str, int] | None
    finish_reason: str | None
    ttft_ms: float | None
    total_ms: float


class Turns:
    """Prepares and runs turns against the compiled graphs."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        graphs: Mapping[str, Graph],
        checkpointer: Checkpointer,
        models: ChatModelFactory,
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._graphs = graphs
        self._checkpointer = checkpointer
        self._models = models

    async def prepare(self, body: ChatRequest, request_id: str) -> Turn:
        received = time.perf_counter()
        graph = self._resolve(body)
        settings = self._graph_settings(graph, body.graph_settings)
        content = self._content(body.message.content)
        turn = Turn(
            request_id=request_id,
            thread_id=body.thread_id or uuid.uuid4().hex,
            user_id=body.user_id,
            agent_id=body.agent_id,
            graph=graph,
            settings=settings,
            content=content,
            received=received,
        )
        if body.thread_id is not None:
            await self._check_thread(turn)
        return turn

    async def run(self, turn: Turn, emit: Callable[[str], None]) -> Reply:
        """Run the turn, handing each non-empty text delta to ``emit`` as it arrives.

        ``emit`` is called on the event loop from inside the model's token callback, so it must
        be quick and must not raise. The whole reply comes back as a :class:`Reply`.
        """
        graph = self._graphs[turn.graph.ref]
        # A client retrying a request id replaces its own message instead of adding a copy.
        message = HumanMessage(turn.content, id=f"{turn.request_id}:user")
        loop = asyncio.get_running_loop()
        start = loop.time()
        tap = _ReplyTap(emit, turn.received)
        config = turn.config()
        # The tap sees every chat-model chunk as LangGraph's "messages" stream mode would (same
        # nostream tags, being LangGraph's own handler), but calls ``emit`` straight from the
        # model's callback: no stream queue and no generator hop per token. It is built with
        # subgraphs=True because LangGraph drops a caller's subgraphs=False handler at the root;
        # the tap skips subgraph chunks itself, as stream_mode="messages" does by default.
        config["callbacks"] = [StreamMessagesHandler(tap.take, subgraphs=True)]
        try:
            # One timeout for the whole turn, moved once at the first token, rather than a new
            # one around every chunk.
            async with asyncio.timeout_at(start + self._settings.upstream_first_token_timeout) as (
                timeout
            ):
                tap.on_first = lambda: timeout.reschedule(start + self._settings.upstream_timeout)
                await graph.ainvoke(
                    {"messages": [message]},
                    config,
                    context=turn.settings,
                    # One checkpoint per turn, written when the run ends, even when it fails.
                    durability="exit",
                )
        except asyncio.CancelledError:
            # Cancelled by request or by a client that left: keep what was streamed, so the
            # thread reads as the client saw it, then report the partial reply.
            text = "".join(tap.parts)
            await self._keep_partial(turn, message, text)
            raise TurnCancelled(tap.reply(turn, text, finish_reason="cancelled")) from None
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
        return tap.reply(turn, "".join(tap.parts), finish_reason=tap.finish_reason)

    async def _keep_partial(self, turn: Turn, message: HumanMessage, text: str) -> None:
        """Save the user's message and the partial reply as the turn's outcome.

        Message ids make this idempotent: if the cancelled run had saved the user's message,
        it is replaced, not repeated.
        """
        graph = self._graphs[turn.graph.ref]
        try:
            # The cancel may land after the last token, while the run's own exit checkpoint
            # (holding the whole reply) is being written: then there is nothing to add.
            saved = (await graph.aget_state(turn.config())).values.get("messages", [])
            ids = [m.id for m in saved]
            if message.id in ids and ids.index(message.id) < len(ids) - 1:
                return
            messages: list[Any] = [message]
            if text:
                messages.append(AIMessage(text, id=f"{turn.request_id}:assistant"))
            await graph.aupdate_state(
                turn.config(), {"messages": messages}, as_node=turn.graph.reply_node
            )
        except Exception:
            log.exception("could not save the partial reply of %s", turn.request_id)

    def final_payload(self, turn: Turn, reply: Reply) -> dict[str, Any]:
        usage = reply.usage
        return {
            "text": reply.text,
            "attachments": [],
            "metadata": {
                "requestId": turn.request_id,
                "threadId": turn.thread_id,
                "userId": turn.user_id,
                "agentId": turn.agent_id,
                "graphType": turn.graph.ref,
                "model": reply.model or getattr(turn.settings, "model", None) or "unknown",
                "provider": self._models.provider,
                "usage": {
                    "inputTokens": usage.get("input_tokens", 0),
                    "outputTokens": usage.get("output_tokens", 0),
                    "totalTokens": usage.get("total_tokens", 0),
                }
                if usage
                else None,
                "finishReason": reply.finish_reason,
                "timings": {
                    "ttftMs": _ms(reply.ttft_ms),
                    "totalMs": _ms(reply.total_ms),
                },
            },
        }

    def _resolve(self, body: ChatRequest) -> GraphVersion:
        top = body.graph_type
        inner = body.graph_settings.get("graphType")
        if inner is not None and not isinstance(inner, str):
            raise ValidationFailed("graphSettings.graphType must be a string like 'name::1.0.0'")
        try:
            if top and inner and Reference.parse(top).name != Reference.parse(inner).name:
                raise ValidationFailed(
                    f"graphType {top!r} and graphSettings.graphType {inner!r} name different "
                    "graphs; send one, or the same graph in both"
                )
            return self._registry.resolve(inner or top or self._settings.default_graph)
        except InvalidReference as exc:
            raise ValidationFailed(str(exc)) from None
        except UnknownGraph as exc:
            raise GraphNotFound(str(exc), details={"available": exc.available}) from None

    @staticmethod
    def _graph_settings(graph: GraphVersion, raw: Mapping[str, Any]) -> GraphSettings:
        values = {k: v for k, v in raw.items() if k != "graphType"}
        try:
            return graph.settings.model_validate(values)
        except ValidationError as exc:
            details = [
                {"loc": ["graphSettings", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
            first = details[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValidationFailed(
                f"invalid settings for {graph.ref}: {where}: {first['msg']}", details=details
            ) from None

    def _content(self, content: str) -> str:
        if not content.strip():
            raise ValidationFailed("message.content is empty")
        if "\x00" in content:
            raise ValidationFailed("message.content contains a null byte")
        if len(content) > self._settings.max_message_chars:
            raise ValidationFailed(
                f"message.content is {len(content)} characters; the limit is "
                f"{self._settings.max_message_chars}"
            )
        return content

    async def load_thread(self, thread_id: str, user_id: str) -> CheckpointTuple | None:
        """The thread's latest checkpoint, if it exists and belongs to ``user_id``."""
        try:
            saved = await self._checkpointer.saver.aget_tuple(
                {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
            )
        except Exception as exc:
            error = to_app_error(exc)
            if error is None:
                raise
            raise error from exc
        if saved is None:
            return None
        owner = saved.metadata.get("user_id")
        if owner is not None and owner != user_id:
            # 404, not 403: another user's thread id must reveal nothing.
            raise ThreadNotFound(f"thread {thread_id!r} was not found")
        return saved

    async def _check_thread(self, turn: Turn) -> None:
        """A thread continues with its own graph (any version) and only for its owner."""
        saved = await self.load_thread(turn.thread_id, turn.user_id)
        if saved is None:
            return
        bound = saved.metadata.get("graph_name")
        if bound is not None and bound != turn.graph.name:
            raise ThreadGraphMismatch(
                f"thread {turn.thread_id!r} belongs to graph {bound!r}; it cannot continue "
                f"with {turn.graph.name!r} (any version of {bound!r} can)"
            )


class _ReplyTap:
    """Collects one turn's reply from the model's message chunks and passes its text on."""

    def __init__(self, emit: Callable[[str], None], received: float) -> None:
        self._emit = emit
        self._received = received  # time.perf_counter() when the request arrived
        self.on_first: Callable[[], object] | None = None
        self.parts: list[str] = []
        self.ttft_ms: float | None = None
        self.usage: dict[str, int] | None = None
        self.finish_reason: str | None = None
        self.model: str | None = None

    def take(self, item: tuple[Any, str, tuple[Any, Any]]) -> None:
        """A ``StreamMessagesHandler`` stream item: ``(namespace, "messages", (message, meta))``."""
        namespace, _, (chunk, _meta) = item
        if namespace:
            return  # a subgraph's model: its tokens are not this reply's
        if not isinstance(chunk, AIMessageChunk):
            return  # whole messages from node outputs: the chunks already carried their text
        text = chunk.content if isinstance(chunk.content, str) else chunk.text
        if text:
            if self.ttft_ms is None:
                self.ttft_ms = (time.perf_counter() - self._received) * 1000
                if self.on_first is not None:
                    self.on_first()
            parts = self.parts
            parts.append(text)
            if len(parts) >= 64:
                # One string per 64 tokens, not an object per token for the whole reply.
                parts[:] = ["".join(parts)]
            self._emit(text)
        if chunk.usage_metadata:
            self.usage = dict(chunk.usage_metadata)  # type: ignore[arg-type]
        meta = chunk.response_metadata
        if meta:
            self.finish_reason = meta.get("finish_reason", self.finish_reason)
            self.model = meta.get("model_name", self.model)

    def reply(self, turn: Turn, text: str, *, finish_reason: str | None) -> Reply:
        return Reply(
            text=text,
            model=self.model,
            usage=self.usage,
            finish_reason=finish_reason,
            ttft_ms=self.ttft_ms,
            total_ms=(time.perf_counter() - turn.received) * 1000,
        )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
