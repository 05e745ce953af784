"""The AI SDK's UI message stream (``useChat``, ai 6 and 7): ``data: <json>`` parts, ending with
``data: [DONE]``.

One response is one assistant UI message: ``start``, then for each model call a step
(``start-step`` ... ``finish-step``) holding its text blocks (``text-start`` / ``-delta`` /
``-end``) and its tool calls (``tool-input-start`` / ``-delta`` / ``-available``, then
``tool-output-available``, ``-error`` or ``-denied``), then ``finish``. The client checks the
order (a delta needs its start, a tool's output its input), so this encoder keeps the state a
response needs: whether a step and a text block are open, and which tool calls still await
their ``tool-input-available``. A model's tool-call arguments are complete when the tools start
to run (their first output, a step's end, the run's end), so that is when their inputs are
announced.

A run taken over by another replica goes on in the same message: the new encoder catches up
with the log (:meth:`~app.wire.data_stream.DataStream.resume`), and the :class:`Reset` closes
the text block and the step the dead replica left open, then says so with a transient
``data-reset`` part (``useChat``'s ``onData``; it is no part of the message). A call whose input
was not announced yet is settled by what comes next: its tool running again (the model's step
was checkpointed) announces it, the model writing again first (the step is run again) ends it
with ``tool-input-error``. A tool run again for a call the client holds gets no second start.

A text delta costs one ``orjson.dumps`` of its text between constant bytes, as a chat chunk does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from app.errors import AppError
from app.runs.events import (
    GraphChunk,
    MessageStarted,
    Reply,
    Reset,
    RunEvent,
    StepFinished,
    StepStarted,
    ToolInputChunk,
    ToolOutputChunk,
)
from app.runs.spec import RunSpec
from app.wire.chat import model_of
from app.wire.data_stream import DataStream
from app.wire.sse import data_frame

HEADERS = {
    "x-vercel-ai-ui-message-stream": "v1",
    "x-accel-buffering": "no",
}
DONE = b"data: [DONE]\n\n"

# ai 6 refuses a finishReason outside these; ours (OpenAI's, and the server's own) map onto them.
_FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool-calls",
    "content_filter": "content-filter",
    "interrupted": "tool-calls",
}


def _part(data: Mapping[str, Any]) -> bytes:
    return data_frame(orjson.dumps(data))


def failure(error: AppError) -> bytes:
    """The end of a response that failed: ``error``, then ``finish`` (and ``[DONE]``)."""
    failed = {"type": "error", "errorText": error.message, "code": error.code}
    finish = {
        "type": "finish",
        "finishReason": "error",
        "messageMetadata": {"error": {"code": error.code, "message": error.message}},
    }
    return _part(failed) + _part(finish) + DONE


class _Tool:
    __slots__ = ("args", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.args: list[str] = []

    def input(self) -> Any:
        text = "".join(self.args)
        try:
            return orjson.loads(text) if text.strip() else {}
        except orjson.JSONDecodeError:
            return text


class AISDKEncoder(DataStream):
    """Encodes one run's events as one assistant message of the UI message stream.

    ``spec.wire_context`` may name ``message_id`` (the assistant message a continuation goes on
    with, as the client holds it) and ``answered``: the tool call an approval answers, and
    whether it was approved, with ``calls``: its name and input. The client has that call
    already: it gets the input again and then the outcome, never a second start."""

    __slots__ = (
        "_answered",
        "_calls",
        "_message",
        "_spec",
        "_step_open",
        "_texts",
        "_tools",
        "_undecided",
        "_waiting",
        "message_id",
    )

    def __init__(self, spec: RunSpec) -> None:
        super().__init__()
        self._spec = spec
        context = spec.wire_context
        self.message_id: str = context.get("message_id") or f"msg-{spec.request_id}"
        self._answered: Mapping[str, bool] = context.get("answered") or {}
        self._calls: Mapping[str, Mapping[str, Any]] = context.get("calls") or {}
        self._message: str | None = None  # the model message the deltas belong to
        self._step_open = False
        self._texts = 0
        self._tools: dict[str, _Tool] = {}  # every tool call this response started
        self._waiting: list[str] = []  # started calls whose input is not yet announced
        # After a takeover: whether the calls waiting are those the dead replica left, which
        # are real if their tools run before the model writes again, and void if not.
        self._undecided = False

    def head(self) -> bytes:
        """The first part of every response (a replay's too: the client starts the message
        again on it)."""
        metadata = {
            "threadId": self._spec.thread_id,
            "requestId": self._spec.request_id,
            "graphType": self._spec.graph.ref,
        }
        return _part({"type": "start", "messageId": self.message_id, "messageMetadata": metadata})

    def failure(self, error: AppError) -> bytes:
        return failure(error)

    # -- one event -----------------------------------------------------------------------

    def _event(self, event: RunEvent, out: list[bytes]) -> None:
        if isinstance(event, MessageStarted):
            self._new_message(event, out)
            if event.text:
                self._open_text(out)
                out.append(b"%s%s}\n\n" % (self._delta_head, orjson.dumps(event.text)))
        elif isinstance(event, StepStarted):
            if event.message is not None:
                self._new_message(event.message, out)
            elif self._message is None:
                # No model has written since the response began or since a takeover: a tool
                # runs, so the calls waiting are real. One of a call this response started
                # already runs again after a takeover: the client has its part.
                self._announce_inputs(out)
                if event.id in self._tools:
                    return
            if event.id in self._answered:
                # The client holds this call, awaiting its outcome. Its input again (the same
                # part, updated, for a live client) lets a replay, which starts the message
                # from nothing, show the outcome on a part it has.
                known = self._calls.get(event.id)
                if known is not None:
                    available = {"type": "tool-input-available", "toolCallId": event.id, **known}
                    out.append(_part(available))
                return
            self._open_step(out)
            self._close_text(out)
            self._tools[event.id] = _Tool(event.name)
            self._waiting.append(event.id)
            out.append(
                _part({"type": "tool-input-start", "toolCallId": event.id, "toolName": event.name})
            )
        elif isinstance(event, ToolInputChunk):
            tool = self._tools.get(event.step_id)
            if tool is not None and event.step_id in self._waiting:
                tool.args.append(event.chunk)
                delta = {
                    "type": "tool-input-delta",
                    "toolCallId": event.step_id,
                    "inputTextDelta": event.chunk,
                }
                out.append(_part(delta))
        elif isinstance(event, ToolOutputChunk):
            self._announce_inputs(out)
        elif isinstance(event, StepFinished):
            self._announce_inputs(out)
            self._outcome(event, out)
        elif isinstance(event, Reply):
            self._end(event, out)
        elif isinstance(event, Reset):
            self._reset(event, out)
        elif isinstance(event, GraphChunk):
            return

    def _reset(self, reset: Reset, out: list[bytes]) -> None:
        self._close_text(out)
        self._close_step(out)
        self._message = None  # the step runs again: a new model call, a new step
        self._undecided = bool(self._waiting)
        part = {"type": "data-reset", "data": {"reason": reset.reason}, "transient": True}
        out.append(_part(part))

    def _caught_up(self, part: dict[str, Any]) -> None:
        kind = part.get("type")
        if kind == "start-step":
            self._step_open = True
        elif kind == "finish-step":
            self._step_open = False
        elif kind == "text-start":
            self._texts += 1
            self._enter_text(str(part["id"]))
        elif kind == "text-end":
            self._text = None
        elif kind == "tool-input-start":
            call_id = str(part["toolCallId"])
            self._tools[call_id] = _Tool(str(part["toolName"]))
            self._waiting.append(call_id)
        elif kind == "tool-input-delta":
            tool = self._tools.get(str(part["toolCallId"]))
            if tool is not None:
                tool.args.append(str(part["inputTextDelta"]))
        elif kind in ("tool-input-available", "tool-input-error"):
            call_id = str(part["toolCallId"])
            if call_id in self._waiting:
                self._waiting.remove(call_id)

    def _outcome(self, event: StepFinished, out: list[bytes]) -> None:
        step = event.step
        if step.id not in self._tools and step.id not in self._answered:
            return
        part: dict[str, Any]
        if self._answered.get(step.id) is False:
            part = {"type": "tool-output-denied", "toolCallId": step.id}
        elif step.status == "error":
            part = {"type": "tool-output-error", "toolCallId": step.id, "errorText": step.output}
        else:
            part = {"type": "tool-output-available", "toolCallId": step.id, "output": step.output}
        out.append(_part(part))

    def _end(self, reply: Reply, out: list[bytes]) -> None:
        self._announce_inputs(out)
        self._close_text(out)
        for attachment in reply.attachments:
            self._open_step(out)
            out.append(_part(_attachment_part(attachment, len(out))))
        interrupt = reply.interrupt
        if interrupt is not None:
            self._open_step(out)
            if interrupt.step_id is not None and interrupt.step_id in self._tools:
                approval = {
                    "type": "tool-approval-request",
                    "approvalId": interrupt.id,
                    "toolCallId": interrupt.step_id,
                }
                out.append(_part(approval))
            else:
                data = {"id": interrupt.id, "value": interrupt.value}
                out.append(_part({"type": "data-interrupt", "id": interrupt.id, "data": data}))
        self._close_step(out)
        if reply.finish_reason == "cancelled":
            out.append(_part({"type": "abort", "reason": "cancelled"}))
        finish = {
            "type": "finish",
            "finishReason": _FINISH.get(reply.finish_reason or "stop", "other"),
            "messageMetadata": self._metadata(reply),
        }
        out.append(_part(finish))
        out.append(DONE)

    def _metadata(self, reply: Reply) -> dict[str, Any]:
        spec = self._spec
        usage = reply.usage
        metadata: dict[str, Any] = {
            "threadId": spec.thread_id,
            "requestId": spec.request_id,
            "graphType": spec.graph.ref,
            "model": model_of(spec, reply),
            "finishReason": reply.finish_reason,
            "timings": {
                "ttftMs": None if reply.ttft_ms is None else round(reply.ttft_ms, 2),
                "totalMs": round(reply.total_ms, 2),
            },
        }
        if usage:
            metadata["usage"] = {
                "inputTokens": usage.get("input_tokens", 0),
                "outputTokens": usage.get("output_tokens", 0),
                "totalTokens": usage.get("total_tokens", 0),
            }
        # Always named: the client merges a continuation's metadata into the message's, so an
        # answered interrupt must be cleared, not left out.
        interrupt = reply.interrupt
        metadata["interrupt"] = (
            {"id": interrupt.id, "value": interrupt.value} if interrupt is not None else None
        )
        return metadata

    # -- the open parts ------------------------------------------------------------------

    def _new_message(self, started: MessageStarted, out: list[bytes]) -> None:
        """A model call began: a new step (after the previous call's tools have run)."""
        self._void_undecided(out)
        if started.id == self._message:
            return
        self._announce_inputs(out)
        self._close_text(out)
        self._close_step(out)
        self._message = started.id
        self._open_step(out)

    def _open_step(self, out: list[bytes]) -> None:
        if not self._step_open:
            self._step_open = True
            out.append(b'data: {"type":"start-step"}\n\n')

    def _close_step(self, out: list[bytes]) -> None:
        if self._step_open:
            self._close_text(out)
            self._step_open = False
            out.append(b'data: {"type":"finish-step"}\n\n')

    def _open_text(self, out: list[bytes]) -> None:
        self._void_undecided(out)
        self._open_step(out)
        self._texts += 1
        encoded = self._enter_text(f"text-{self._texts}")
        out.append(b'data: {"type":"text-start","id":%s}\n\n' % encoded)

    def _enter_text(self, text_id: str) -> bytes:
        self._text = text_id
        encoded = orjson.dumps(text_id)
        self._delta_head = b'data: {"type":"text-delta","id":%s,"delta":' % encoded
        return encoded

    def _close_text(self, out: list[bytes]) -> None:
        if self._text is not None:
            out.append(b'data: {"type":"text-end","id":%s}\n\n' % orjson.dumps(self._text))
            self._text = None

    def _announce_inputs(self, out: list[bytes]) -> None:
        """The model finished writing these calls' arguments: the tools may run."""
        self._undecided = False
        for call_id in self._waiting:
            tool = self._tools[call_id]
            available = {
                "type": "tool-input-available",
                "toolCallId": call_id,
                "toolName": tool.name,
                "input": tool.input(),
            }
            out.append(_part(available))
        self._waiting.clear()

    def _void_undecided(self, out: list[bytes]) -> None:
        """The model writes again after a takeover before the calls the dead replica left
        were run: their step is run again, and they are void."""
        if not self._undecided:
            return
        self._undecided = False
        for call_id in self._waiting:
            tool = self._tools[call_id]
            void = {
                "type": "tool-input-error",
                "toolCallId": call_id,
                "toolName": tool.name,
                "input": "".join(tool.args),
                "errorText": "The server making this call stopped; the step was run again.",
            }
            out.append(_part(void))
        self._waiting.clear()


def _attachment_part(attachment: Mapping[str, Any], index: int) -> dict[str, Any]:
    """A citation as a source (``source-url`` when it has a URL), anything else as a data part
    named by its type (``data-note``)."""
    kind = str(attachment.get("type") or "attachment")
    if kind == "citation":
        source = str(attachment.get("url") or attachment.get("source") or f"source-{index}")
        title = str(attachment.get("title") or source)
        if attachment.get("url") or "://" in source:
            return {"type": "source-url", "sourceId": source, "url": source, "title": title}
        return {
            "type": "source-document",
            "sourceId": source,
            "mediaType": str(attachment.get("mediaType") or "text/markdown"),
            "title": title,
            "filename": source,
        }
    return {"type": f"data-{kind}", "data": dict(attachment)}
