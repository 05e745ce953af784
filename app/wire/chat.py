"""The chat API's wire format: ``stream_event`` chunk frames, then ``final`` (or ``error``).

Frames are built here rather than through sse-starlette's ``ServerSentEvent`` because a chunk
frame is sent for every token: one ``orjson.dumps`` and one bytes join per token is all the
work it needs. The ``final`` payload is rendered from one model, :class:`FinalResponse`, for
``/stream`` and ``/generate`` alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from app.errors import AppError
from app.runs.events import (
    GraphChunk,
    MessageStarted,
    Reply,
    Reset,
    RunEvent,
    Step,
    StepFinished,
    StepStarted,
    ToolInputChunk,
    ToolOutputChunk,
)
from app.runs.spec import RunSpec
from app.wire.chat_final import (
    FinalInterrupt,
    FinalMetadata,
    FinalResponse,
    FinalStep,
    Timings,
    Usage,
)
from app.wire.sse import frame

_CHUNK_HEAD = b'event: stream_event\ndata: {"type":"chunk","content":'


def chunk_frame(frame_id: int, content: str) -> bytes:
    """``frame(frame_id, b"stream_event", <chunk>)``, its constant head written once."""
    return b"id: %d\n%s%s}\n\n" % (frame_id, _CHUNK_HEAD, orjson.dumps(content))


def event_frame(frame_id: int, event: str, data: Any) -> bytes:
    return frame(frame_id, event.encode(), orjson.dumps(data))


def final_response(spec: RunSpec, reply: Reply) -> FinalResponse:
    """The ``final`` frame's data and the ``/generate`` body."""
    usage = reply.usage
    return FinalResponse(
        text=reply.text,
        attachments=[dict(a) for a in reply.attachments],
        metadata=FinalMetadata(
            requestId=spec.request_id,
            threadId=spec.thread_id,
            userId=spec.user_id,
            agentId=spec.agent_id,
            graphType=spec.graph.ref,
            model=model_of(spec, reply),
            provider=reply.provider,
            usage=Usage(
                inputTokens=usage.get("input_tokens", 0),
                outputTokens=usage.get("output_tokens", 0),
                totalTokens=usage.get("total_tokens", 0),
            )
            if usage
            else None,
            finishReason=reply.finish_reason,
            timings=Timings(ttftMs=_ms(reply.ttft_ms), totalMs=_ms(reply.total_ms) or 0.0),
            steps=[_final_step(step) for step in reply.steps] if reply.steps else None,
            interrupt=FinalInterrupt(
                id=reply.interrupt.id, value=reply.interrupt.value, stepId=reply.interrupt.step_id
            )
            if reply.interrupt is not None
            else None,
        ),
    )


def _final_step(step: Step) -> FinalStep:
    return FinalStep(
        id=step.id, name=step.name, input=step.input, output=step.output, status=step.status
    )


def _wire_step(step: Step) -> dict[str, Any]:
    return {
        "id": step.id,
        "type": "tool_use",
        "name": step.name,
        "input": step.input,
        "output": step.output,
        "status": step.status,
    }


def step_event(event: StepStarted | ToolInputChunk | ToolOutputChunk | StepFinished) -> Any:
    """The ``stream_event`` data of a tool-step event."""
    if isinstance(event, StepStarted):
        step = {"id": event.id, "type": "tool_use", "name": event.name, "index": event.index}
        return {"type": "step_started", "step": step}
    if isinstance(event, ToolInputChunk):
        return {"type": "tool_input_chunk", "stepId": event.step_id, "chunk": event.chunk}
    if isinstance(event, ToolOutputChunk):
        return {"type": "tool_output_chunk", "stepId": event.step_id, "chunk": event.chunk}
    return {"type": "step_finished", "step": _wire_step(event.step)}


def final_payload(spec: RunSpec, reply: Reply) -> dict[str, Any]:
    # Fields a turn without tool steps or interrupts never has stay off the wire, as before.
    payload = final_response(spec, reply).model_dump(by_alias=True)
    metadata = payload["metadata"]
    for key in ("steps", "interrupt"):
        if metadata[key] is None:
            del metadata[key]
    return payload


class ChatEncoder:
    """Encodes one run's events as the chat API's frames; a frame's id is the event's position in
    the run's log. The first frame of a response also carries ``retry:``, so a browser's
    ``EventSource`` reconnects promptly (it keeps the value for the connection's life)."""

    __slots__ = ("_retry", "_turn", "last_id")

    def __init__(self, spec: RunSpec, *, retry_ms: int | None = None) -> None:
        self._turn = spec
        self._retry = b"retry: %d\n" % retry_ms if retry_ms else b""
        self.last_id = 0

    def encode(self, first_id: int, events: Sequence[RunEvent]) -> bytes:
        """The frames for a batch of events whose first is at position ``first_id``."""
        out = []
        frame_id = first_id
        for event in events:
            if isinstance(event, str):
                out.append(chunk_frame(frame_id, event))
            else:
                parts = self.parts(event)
                if parts is not None:  # None: a graph stream mode's, not in this view
                    out.append(frame(frame_id, *parts))
            frame_id += 1
        self.last_id = frame_id - 1
        return self._with_retry(b"".join(out))

    def parts(self, event: RunEvent, position: int = 0) -> tuple[bytes, bytes] | None:
        """The event name and data of an event's frame, without the id (the log adds the
        event's ``position``); ``None`` for an event this view does not show (a graph stream
        mode's chunk)."""
        if isinstance(event, str):
            return b"stream_event", b'{"type":"chunk","content":%s}' % orjson.dumps(event)
        if isinstance(event, MessageStarted):
            return b"stream_event", b'{"type":"chunk","content":%s}' % orjson.dumps(event.text)
        if isinstance(event, Reply):
            return b"final", orjson.dumps(final_payload(self._turn, event))
        if isinstance(event, GraphChunk):
            return None
        if isinstance(event, Reset):
            # A client that reads only chunk and final skips it (an unknown type) and still
            # gets the right final; one that shows chunks starts the reply again here.
            return b"stream_event", b'{"type":"reset","reason":%s}' % orjson.dumps(event.reason)
        return b"stream_event", orjson.dumps(step_event(event))

    def resume(self, logged: Sequence[bytes]) -> None:
        """Catch up with the run's log entries written before a takeover: nothing to do, as
        every frame stands alone."""

    def error_parts(self, error: AppError) -> tuple[bytes, bytes]:
        return b"error", orjson.dumps(error.payload(self._turn.request_id))

    def error(self, frame_id: int, error: AppError) -> bytes:
        self.last_id = frame_id
        return self._with_retry(frame(frame_id, *self.error_parts(error)))

    def _with_retry(self, frames: bytes) -> bytes:
        if self._retry and frames:
            frames, self._retry = self._retry + frames, b""
        return frames


def model_of(spec: RunSpec, reply: Reply) -> str:
    """The model that answered; for a reply that never heard back from one (a cancel before
    its end), the one the settings asked for, or the offline model's name when that answered."""
    if reply.model:
        return reply.model
    if reply.provider == "offline":
        return "offline"
    return str(getattr(spec.settings, "model", None) or "unknown")


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
