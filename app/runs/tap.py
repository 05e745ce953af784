"""The callback that watches a turn's model and tool calls and turns them into run events.

It is a plain langchain callback handler (public API), registered for the turn's run and
inherited by every chat model and tool the graph calls. Text and tool-call deltas are streamed
only from the models called directly by the version's declared stream nodes: a model tagged
``nostream`` (LangGraph's public tag) or called inside a subgraph is not streamed. Tool runs of
the root graph become steps. Usage is summed over every model call of the turn.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, GenerationChunk, LLMResult
from langgraph.constants import TAG_NOSTREAM
from langgraph.errors import GraphBubbleUp
from langgraph.types import Command

from app.runs.events import (
    MessageStarted,
    RunEvent,
    Step,
    StepFinished,
    StepStarted,
    ToolInputChunk,
    ToolOutputChunk,
)

# LangGraph joins a subgraph's checkpoint namespace to its parent's with this separator; a
# call at the root has a namespace without one (pinned by tests/e2e/test_reply_tokens).
_NS_SEP = "|"
# Streamed text is kept as one string per this many deltas, not an object per token.
_JOIN_EVERY = 64
# A tool may stream its output by dispatching this custom event with {"chunk": "..."}.
TOOL_OUTPUT_EVENT = "tool_output_chunk"


def _at_root(metadata: dict[str, Any] | None) -> bool:
    return _NS_SEP not in str((metadata or {}).get("langgraph_checkpoint_ns", ""))


class _ToolRun:
    __slots__ = ("input", "name", "step_id", "streamed")

    def __init__(self, step_id: str, name: str, input: Any) -> None:
        self.step_id = step_id
        self.name = name
        self.input = input
        self.streamed = False


class Tap(BaseCallbackHandler):
    """Hands each run event to ``emit`` from inside the model's and tools' callbacks."""

    # Called in line, in order, with no task or thread per token.
    run_inline = True

    def __init__(
        self, emit: Callable[[RunEvent], None], stream_nodes: Collection[str], received: float
    ) -> None:
        self._emit = emit
        self._stream_nodes = frozenset(stream_nodes)
        self._received = received  # time.perf_counter() when the request arrived
        # Streamed model runs -> their run metadata (node, step, namespace), as LangGraph's
        # messages stream mode reports it; the run whose message the deltas now belong to.
        self._streaming: dict[UUID, dict[str, Any]] = {}
        self._current: UUID | None = None
        # (model run, tool-call index) -> step id, for the calls a streamed model is writing.
        self._calls: dict[tuple[UUID, int], str] = {}
        self._pending_args: dict[tuple[UUID, int], list[str]] = {}
        self._started: dict[str, str] = {}  # step id -> tool name, started and not finished
        self._tools: dict[UUID, _ToolRun] = {}
        # A call's id as the tool run knows it -> the id its steps went out with.
        self._aliases: dict[str, str] = {}
        self._step_count = 0
        self.on_first: Callable[[], object] | None = None
        self.parts: list[str] = []  # text since the last finished step
        self.deltas = 0  # text deltas emitted
        self.ttft_ms: float | None = None
        self.usage: UsageMetadata | None = None
        self.steps: list[Step] = []
        self.interrupted_step: str | None = None  # the step whose tool asked the user
        self.attachments: list[dict[str, Any]] = []

    def text(self) -> str:
        return "".join(self.parts)

    # -- models ------------------------------------------------------------------------

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
        if metadata.get("langgraph_node") in self._stream_nodes and _at_root(metadata):
            self._streaming[run_id] = metadata

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
        if message.tool_call_chunks:
            self._tool_call_deltas(run_id, message)
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
        self.deltas += 1
        if run_id is self._current or run_id == self._current:
            self._emit(text)
        else:  # the first text of this model message: say whose it is
            self._current = run_id
            self._emit(
                MessageStarted(message.id or f"lc_run--{run_id}", self._streaming[run_id], text)
            )

    def _tool_call_deltas(self, run_id: UUID, message: AIMessageChunk) -> None:
        for delta in message.tool_call_chunks:
            # Vendors that stream one call may send no index at all.
            index = delta.get("index")
            key = (run_id, index if index is not None else 0)
            step_id = self._calls.get(key)
            args = delta.get("args") or ""
            if step_id is None:
                name = delta.get("name")
                if not name:  # arguments before the name: hold them until it comes
                    if args:
                        self._pending_args.setdefault(key, []).append(args)
                    continue
                step_id = delta.get("id") or f"call_{run_id.hex[:12]}_{key[1]}"
                self._calls[key] = step_id
                owner = None
                if run_id != self._current:
                    self._current = run_id
                    owner = MessageStarted(
                        message.id or f"lc_run--{run_id}", self._streaming[run_id], ""
                    )
                self._start(step_id, name, owner)
                held = self._pending_args.pop(key, None)
                if held:
                    args = "".join(held) + args
            if args:
                self._emit(ToolInputChunk(step_id, args))

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self._streaming.pop(run_id, None)
        for generations in response.generations:
            for generation in generations:
                if isinstance(generation, ChatGeneration):
                    usage = getattr(generation.message, "usage_metadata", None)
                    if usage:
                        self.usage = add_usage(self.usage, usage)
                    self._adopt_ids(run_id, generation.message)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._streaming.pop(run_id, None)

    def _adopt_ids(self, run_id: UUID, message: BaseMessage) -> None:
        """A step whose id the stream did not carry takes the merged call's id, so the tool's
        run (which knows only that id) finds it."""
        calls = getattr(message, "tool_calls", None) or []
        for index, call in enumerate(calls):
            step_id = self._calls.pop((run_id, index), None)
            if step_id is not None and call.get("id") and call["id"] != step_id:
                name = self._started.pop(step_id, call["name"])
                self._started[call["id"]] = name
                self._aliases[call["id"]] = step_id

    def _start(self, step_id: str, name: str, message: MessageStarted | None = None) -> None:
        self._started[step_id] = name
        self._emit(StepStarted(step_id, name, self._step_count, message))
        self._step_count += 1

    # -- tools ---------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        inputs: dict[str, Any] | None = None,
        tool_call_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not _at_root(metadata):
            return
        name = str(serialized.get("name") or kwargs.get("name") or "tool")
        step_id = tool_call_id or f"step_{run_id.hex[:16]}"
        if step_id not in self._started:
            self._start(step_id, name)
        self._tools[run_id] = _ToolRun(step_id, name, inputs if inputs is not None else input_str)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        tool = self._tools.get(run_id)
        if name != TOOL_OUTPUT_EVENT or tool is None:
            return
        chunk = data.get("chunk") if isinstance(data, dict) else data
        if chunk:
            tool.streamed = True
            self._emit(ToolOutputChunk(self._wire_id(tool.step_id), str(chunk)))

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        tool = self._tools.pop(run_id, None)
        if tool is None:
            return
        message = _tool_message(output)
        text = message.text if message is not None else _as_text(output)
        status = "error" if message is not None and message.status == "error" else "success"
        if message is not None:
            self.attachments.extend(attachments_of(message.artifact))
        self._finish(tool, text, status)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        tool = self._tools.pop(run_id, None)
        if tool is None:
            return
        if isinstance(error, GraphBubbleUp):
            # An interrupt: the step stays open until the turn that resumes it.
            self.interrupted_step = self._wire_id(tool.step_id)
            return
        self._finish(tool, f"{type(error).__name__}: {error}", "error")

    def _finish(self, tool: _ToolRun, output: str, status: str) -> None:
        step_id = self._wire_id(tool.step_id)
        self._started.pop(tool.step_id, None)
        if output and not tool.streamed:
            self._emit(ToolOutputChunk(step_id, output))
        step = Step(
            step_id, tool.name, tool.input, output, "error" if status == "error" else "success"
        )
        self.steps.append(step)
        self.parts.clear()  # the answer is what the model writes after the last step
        self._emit(StepFinished(step))

    def _wire_id(self, step_id: str) -> str:
        return self._aliases.get(step_id, step_id)


def _tool_message(output: Any) -> ToolMessage | None:
    if isinstance(output, ToolMessage):
        return output
    if isinstance(output, Command) and isinstance(output.update, dict):
        for message in output.update.get("messages", []):
            if isinstance(message, ToolMessage):
                return message
    return None


def _as_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    try:
        return json.dumps(output, default=str)
    except (TypeError, ValueError):
        return str(output)


def attachments_of(artifact: Any) -> list[dict[str, Any]]:
    """A tool result's artifact as attachments: the dicts in it that have a ``type``."""
    items = artifact if isinstance(artifact, list) else [artifact]
    return [
        dict(item) for item in items if isinstance(item, dict) and isinstance(item.get("type"), str)
    ]
