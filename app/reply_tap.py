"""The callback that sees a turn's model calls: streams the reply's text, sums usage.

It is a plain langchain callback handler (public API), registered for the turn's run and
inherited by every chat model the graph calls. Text is streamed only from the models called
directly by the graph version's declared stream nodes; a model tagged ``nostream`` (LangGraph's
public tag) or called inside a subgraph is not streamed. Usage is summed over every model call
of the turn, streamed or not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, GenerationChunk, LLMResult
from langgraph.constants import TAG_NOSTREAM

# LangGraph joins a subgraph's checkpoint namespace to its parent's with this separator; a
# model called at the root has a namespace without one (pinned by tests/e2e/test_reply_tokens).
_NS_SEP = "|"
# Streamed text is kept as one string per this many deltas, not an object per token.
_JOIN_EVERY = 64


class ReplyTap(BaseCallbackHandler):
    """Hands each streamed text delta to ``emit`` from inside the model's token callback."""

    # Called in line, in order, with no task or thread per token.
    run_inline = True

    def __init__(
        self, emit: Callable[[str], None], stream_nodes: Collection[str], received: float
    ) -> None:
        self._emit = emit
        self._stream_nodes = frozenset(stream_nodes)
        self._received = received  # time.perf_counter() when the request arrived
        self._streaming: set[UUID] = set()
        self.on_first: Callable[[], object] | None = None
        self.parts: list[str] = []
        self.ttft_ms: float | None = None
        self.usage: UsageMetadata | None = None

    def text(self) -> str:
        return "".join(self.parts)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not metadata or (tags and TAG_NOSTREAM in tags):
            return
        if metadata.get("langgraph_node") not in self._stream_nodes:
            return
        if _NS_SEP in str(metadata.get("langgraph_checkpoint_ns", "")):
            return  # a subgraph's node: its text is not this reply's
        self._streaming.add(run_id)

    def on_llm_new_token(
        self,
        token: str | list[str | dict[str, Any]],
        *,
        chunk: GenerationChunk | ChatGenerationChunk | None = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if run_id not in self._streaming or not isinstance(chunk, ChatGenerationChunk):
            return
        message = chunk.message
        if not isinstance(message, AIMessageChunk):
            return
        text = message.content if isinstance(message.content, str) else message.text
        if not text:
            return
        if self.ttft_ms is None:
            self.ttft_ms = (time.perf_counter() - self._received) * 1000
            if self.on_first is not None:
                self.on_first()
        parts = self.parts
        parts.append(text)
        if len(parts) >= _JOIN_EVERY:
            parts[:] = ["".join(parts)]
        self._emit(text)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self._streaming.discard(run_id)
        for generations in response.generations:
            for generation in generations:
                if isinstance(generation, ChatGeneration):
                    usage = getattr(generation.message, "usage_metadata", None)
                    if usage:
                        self.usage = add_usage(self.usage, usage)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._streaming.discard(run_id)
