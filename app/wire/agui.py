"""AG-UI (protocol 1.0): ``data: <json>`` events in camelCase, as AG-UI's own encoder writes them
(``ag_ui.encoder.EventEncoder``: the event model dumped by alias, fields that are None left out).

A run is ``RUN_STARTED``, its text messages (``TEXT_MESSAGE_START`` / ``CONTENT`` / ``END``, one
per model message, under the model message's id, which is the id the thread keeps), its tool
calls (``TOOL_CALL_START`` / ``ARGS`` / ``END``, then ``TOOL_CALL_RESULT``), the turn's
attachments as ``CUSTOM`` ``attachment`` events, and ``RUN_FINISHED`` with its outcome (success,
interrupt or cancelled), or ``RUN_ERROR``. ``@ag-ui/client`` verifies the order: nothing after
the end, and no message or call left open at ``RUN_FINISHED``.

A run taken over by another replica goes on in the same run: the new encoder catches up with the
log (:meth:`~app.wire.data_stream.DataStream.resume`), and the :class:`Reset` ends the text
message and the tool calls the dead replica left open, then says so with a ``CUSTOM`` ``reset``
event. A tool run again for a call the client holds is not started again, and a call's result
is sent once.

The events are written with orjson rather than through the ``ag_ui.core`` models, which would
cost a model per token; the tests validate every event against those models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from app.errors import AppError
from app.runs.events import (
    GraphChunk,
    Interrupt,
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


def _line(data: Mapping[str, Any]) -> bytes:
    return data_frame(orjson.dumps(data))


def interrupt_of(interrupt: Interrupt) -> dict[str, Any]:
    """A LangGraph interrupt as an AG-UI ``Interrupt``: what it asks, and the tool call that
    asked, if a tool did."""
    value = interrupt.value
    question = value.get("question") if isinstance(value, dict) else None
    shown: dict[str, Any] = {
        "id": interrupt.id,
        "reason": "tool_approval" if interrupt.step_id else "input_required",
        "message": str(question if question is not None else value),
        "metadata": {"value": value},
    }
    if interrupt.step_id:
        shown["toolCallId"] = interrupt.step_id
    return shown


class AGUIEncoder(DataStream):
    """Encodes one run's events as AG-UI events; the run's id is ``spec.wire_context['run_id']``
    (the client's ``runId``), or the request id."""

    __slots__ = ("_answered", "_calls", "_message", "_results", "_spec", "_started", "run_id")

    def __init__(self, spec: RunSpec) -> None:
        super().__init__()
        self._spec = spec
        self.run_id: str = spec.wire_context.get("run_id") or spec.request_id
        # The tool call a resume answers: the client holds its start and arguments already.
        self._answered: Mapping[str, bool] = spec.wire_context.get("answered") or {}
        self._message: str | None = None  # the model message the deltas belong to
        self._calls: list[str] = []  # tool calls started and not yet ended
        self._started: set[str] = set()  # every tool call this run started
        self._results: set[str] = set()  # the calls whose result was sent

    def head(self) -> bytes:
        return _line(
            {"type": "RUN_STARTED", "threadId": self._spec.thread_id, "runId": self.run_id}
        )

    def failure(self, error: AppError) -> bytes:
        return _line({"type": "RUN_ERROR", "message": error.message, "code": error.code})

    # -- one event -----------------------------------------------------------------------

    def _event(self, event: RunEvent, out: list[bytes]) -> None:
        if isinstance(event, MessageStarted):
            self._close_text(out)
            self._message = event.id
            if event.text:
                self._open_text(out)
                out.append(b"%s%s}\n\n" % (self._delta_head, orjson.dumps(event.text)))
        elif isinstance(event, StepStarted):
            if event.message is not None:
                self._close_text(out)
                self._message = event.message.id
            elif self._message is None and event.id in self._started:
                return  # its tool runs again after a takeover: the client has the call
            if event.id in self._answered:
                return
            start: dict[str, Any] = {
                "type": "TOOL_CALL_START",
                "toolCallId": event.id,
                "toolCallName": event.name,
            }
            if self._message is not None:
                start["parentMessageId"] = self._message
            self._calls.append(event.id)
            self._started.add(event.id)
            out.append(_line(start))
        elif isinstance(event, ToolInputChunk):
            if event.step_id in self._calls:
                args = {"type": "TOOL_CALL_ARGS", "toolCallId": event.step_id, "delta": event.chunk}
                out.append(_line(args))
        elif isinstance(event, ToolOutputChunk):
            self._end_calls(out)
        elif isinstance(event, StepFinished):
            self._end_calls(out)
            step = event.step
            if step.id in self._results:  # run again after a takeover: the client has it
                return
            self._results.add(step.id)
            result = {
                "type": "TOOL_CALL_RESULT",
                "messageId": f"{step.id}:result",
                "toolCallId": step.id,
                "content": step.output,
                "role": "tool",
            }
            out.append(_line(result))
        elif isinstance(event, Reply):
            self._finish(event, out)
        elif isinstance(event, Reset):
            self._close_text(out)
            self._end_calls(out)
            self._message = None  # the step runs again: a new model message
            reset = {"type": "CUSTOM", "name": "reset", "value": {"reason": event.reason}}
            out.append(_line(reset))
        elif isinstance(event, GraphChunk):
            return

    def _caught_up(self, part: dict[str, Any]) -> None:
        kind = part.get("type")
        if kind == "TEXT_MESSAGE_START":
            self._message = str(part["messageId"])
            self._enter_text(self._message)
        elif kind == "TEXT_MESSAGE_END":
            self._text = None
        elif kind == "TOOL_CALL_START":
            call_id = str(part["toolCallId"])
            self._calls.append(call_id)
            self._started.add(call_id)
            if "parentMessageId" in part:
                self._message = str(part["parentMessageId"])
        elif kind == "TOOL_CALL_END":
            call_id = str(part["toolCallId"])
            if call_id in self._calls:
                self._calls.remove(call_id)
        elif kind == "TOOL_CALL_RESULT":
            self._results.add(str(part["toolCallId"]))

    def _finish(self, reply: Reply, out: list[bytes]) -> None:
        self._close_text(out)
        self._end_calls(out)
        for attachment in reply.attachments:
            out.append(_line({"type": "CUSTOM", "name": "attachment", "value": dict(attachment)}))
        outcome: dict[str, Any]
        if reply.interrupt is not None:
            outcome = {"type": "interrupt", "interrupts": [interrupt_of(reply.interrupt)]}
        elif reply.finish_reason == "cancelled":
            outcome = {"type": "cancelled"}
        else:
            outcome = {"type": "success"}
        spec = self._spec
        result: dict[str, Any] = {
            "text": reply.text,
            "model": model_of(spec, reply),
            "finishReason": reply.finish_reason,
            "graphType": spec.graph.ref,
            "requestId": spec.request_id,
        }
        if reply.usage:
            result["usage"] = {
                "inputTokens": reply.usage.get("input_tokens", 0),
                "outputTokens": reply.usage.get("output_tokens", 0),
                "totalTokens": reply.usage.get("total_tokens", 0),
            }
        finished = {
            "type": "RUN_FINISHED",
            "threadId": spec.thread_id,
            "runId": self.run_id,
            "result": result,
            "outcome": outcome,
        }
        out.append(_line(finished))

    def _open_text(self, out: list[bytes]) -> None:
        message_id = self._message or f"{self.run_id}:reply"
        self._message = message_id
        encoded = self._enter_text(message_id)
        out.append(
            b'data: {"type":"TEXT_MESSAGE_START","messageId":%s,"role":"assistant"}\n\n' % encoded
        )

    def _enter_text(self, message_id: str) -> bytes:
        self._text = message_id
        encoded = orjson.dumps(message_id)
        self._delta_head = b'data: {"type":"TEXT_MESSAGE_CONTENT","messageId":%s,"delta":' % (
            encoded
        )
        return encoded

    def _close_text(self, out: list[bytes]) -> None:
        if self._text is not None:
            out.append(
                b'data: {"type":"TEXT_MESSAGE_END","messageId":%s}\n\n' % orjson.dumps(self._text)
            )
            self._text = None

    def _end_calls(self, out: list[bytes]) -> None:
        """The model finished writing these calls: the tools run."""
        for call_id in self._calls:
            out.append(_line({"type": "TOOL_CALL_END", "toolCallId": call_id}))
        self._calls.clear()
