"""The AI SDK's and AG-UI's encoders on a run's events, without a server: the parts and events
in the order their clients check, the run log's copy a whole response, the ends of a run."""

from __future__ import annotations

from typing import Any

import orjson
from ag_ui.core import Event
from pydantic import TypeAdapter

from app.errors import UpstreamTimeout
from app.runs.events import (
    Interrupt,
    MessageStarted,
    RunEvent,
    Step,
    StepFinished,
    StepStarted,
    ToolInputChunk,
    ToolOutputChunk,
)
from app.wire.agui import AGUIEncoder
from app.wire.aisdk import AISDKEncoder
from app.wire.codec import encoder_for
from tests.unit.support import reply, spec

EVENT: TypeAdapter[Any] = TypeAdapter(Event)


def _data(raw: bytes) -> list[Any]:
    """Each ``data:`` line; ``[DONE]`` as the string."""
    out: list[Any] = []
    for block in raw.split(b"\n\n"):
        if block.startswith(b"data: "):
            body = block[len(b"data: ") :]
            out.append("[DONE]" if body == b"[DONE]" else orjson.loads(body))
    return out


def _tool_turn() -> list[RunEvent]:
    return [
        MessageStarted("m1", {}, "Let me"),
        " check.",
        StepStarted("c1", "calculator", 0),
        ToolInputChunk("c1", '{"expression": '),
        ToolInputChunk("c1", '"6*7"}'),
        ToolOutputChunk("c1", "42"),
        StepFinished(Step("c1", "calculator", {"expression": "6*7"}, "42", "success")),
        MessageStarted("m2", {}, "It is"),
        " 42.",
        reply("It is 42.", attachments=({"type": "note", "title": "n", "text": "t"},)),
    ]


def test_ai_sdk_parts_come_in_the_order_the_client_checks() -> None:
    encoder = AISDKEncoder(spec(wire="aisdk"))
    parts = _data(encoder.head() + encoder.encode(1, _tool_turn()))

    kinds = [p if isinstance(p, str) else p["type"] for p in parts]
    assert kinds == [
        "start",
        "start-step",
        "text-start",
        "text-delta",
        "text-delta",
        "text-end",
        "tool-input-start",
        "tool-input-delta",
        "tool-input-delta",
        "tool-input-available",
        "tool-output-available",
        "finish-step",
        "start-step",
        "text-start",
        "text-delta",
        "text-delta",
        "text-end",
        "data-note",
        "finish-step",
        "finish",
        "[DONE]",
    ]
    available = next(p for p in parts if p != "[DONE]" and p["type"] == "tool-input-available")
    assert available["input"] == {"expression": "6*7"}
    texts = {p["id"] for p in parts if p != "[DONE]" and p["type"] == "text-start"}
    assert len(texts) == 2
    assert parts[-2]["finishReason"] == "stop"


def test_ai_sdk_log_copy_is_a_whole_response_and_ends_final() -> None:
    run = spec(wire="aisdk")
    live, logged = AISDKEncoder(run), encoder_for(run)
    assert isinstance(logged, AISDKEncoder)
    events = _tool_turn()
    entries = [logged.parts(event, i) for i, event in enumerate(events, 1)]
    kept = [entry for entry in entries if entry is not None]
    assert kept[0][1].startswith(b'data: {"type":"start"')
    assert kept[-1][0] == b"final"
    assert _data(b"".join(data for _, data in kept))[1:] == _data(live.encode(1, events))


def test_ai_sdk_ends_an_interrupt_a_cancel_and_a_failure() -> None:
    asked = AISDKEncoder(spec(wire="aisdk"))
    events: list[RunEvent] = [
        StepStarted("n1", "save_note", 0, MessageStarted("m1", {}, "")),
        ToolInputChunk("n1", "{}"),
        reply(finish_reason="interrupted", interrupt=Interrupt("i1", {"q": 1}, "n1")),
    ]
    kinds = [p if isinstance(p, str) else p["type"] for p in _data(asked.encode(1, events))]
    assert kinds[-5:] == [
        "tool-input-available",
        "tool-approval-request",
        "finish-step",
        "finish",
        "[DONE]",
    ]

    other = AISDKEncoder(spec(wire="aisdk"))
    parts = _data(
        other.encode(1, [reply(finish_reason="interrupted", interrupt=Interrupt("i2", 5))])
    )
    assert parts[1] == {"type": "data-interrupt", "id": "i2", "data": {"id": "i2", "value": 5}}

    cancelled = _data(
        AISDKEncoder(spec(wire="aisdk")).encode(1, ["a", reply(finish_reason="cancelled")])
    )
    assert [p if isinstance(p, str) else p["type"] for p in cancelled][-3:] == [
        "abort",
        "finish",
        "[DONE]",
    ]
    assert cancelled[-2]["finishReason"] == "other"

    failed = _data(AISDKEncoder(spec(wire="aisdk")).error(3, UpstreamTimeout("too slow")))
    assert failed[0] == {"type": "error", "errorText": "too slow", "code": "upstream_timeout"}
    assert failed[1]["finishReason"] == "error"
    assert failed[2] == "[DONE]"


def test_ai_sdk_resume_sends_only_the_answered_calls_outcome() -> None:
    answered = spec(wire="aisdk", wire_context={"message_id": "a1", "answered": {"n1": False}})
    encoder = AISDKEncoder(answered)
    events: list[RunEvent] = [
        StepStarted("n1", "save_note", 0),
        ToolOutputChunk("n1", "declined"),
        StepFinished(Step("n1", "save_note", {}, "declined", "success")),
        MessageStarted("m2", {}, "OK."),
        reply("OK."),
    ]
    parts = _data(encoder.head() + encoder.encode(1, events))
    assert parts[0]["messageId"] == "a1"
    assert parts[1] == {"type": "tool-output-denied", "toolCallId": "n1"}
    assert all(p == "[DONE]" or not p["type"].startswith("tool-input") for p in parts)


def test_ag_ui_events_validate_and_close_before_the_end() -> None:
    encoder = AGUIEncoder(spec(wire="agui", wire_context={"run_id": "r1"}))
    events = _data(encoder.head() + encoder.encode(1, _tool_turn()))

    for event in events:
        EVENT.validate_python(event)
    kinds = [e["type"] for e in events]
    assert kinds == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_CONTENT",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
        "TEXT_MESSAGE_END",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "CUSTOM",
        "RUN_FINISHED",
    ]
    assert events[4]["parentMessageId"] == "m1"
    assert events[-1]["runId"] == "r1"
    assert events[-1]["outcome"] == {"type": "success"}


def test_ag_ui_ends_an_interrupt_a_cancel_and_a_failure() -> None:
    interrupted = AGUIEncoder(spec(wire="agui")).encode(
        1,
        [
            reply(
                finish_reason="interrupted", interrupt=Interrupt("i1", {"question": "Sure?"}, "n1")
            )
        ],
    )
    (finished,) = _data(interrupted)
    assert finished["outcome"] == {
        "type": "interrupt",
        "interrupts": [
            {
                "id": "i1",
                "reason": "tool_approval",
                "message": "Sure?",
                "metadata": {"value": {"question": "Sure?"}},
                "toolCallId": "n1",
            }
        ],
    }
    EVENT.validate_python(finished)
    cancelled = _data(
        AGUIEncoder(spec(wire="agui")).encode(1, ["a", reply(finish_reason="cancelled")])
    )
    assert cancelled[-1]["outcome"] == {"type": "cancelled"}
    failed = _data(AGUIEncoder(spec(wire="agui")).error(2, UpstreamTimeout("too slow")))
    assert failed == [{"type": "RUN_ERROR", "message": "too slow", "code": "upstream_timeout"}]


def test_ag_ui_log_copy_is_a_whole_run_and_ends_final() -> None:
    run = spec(wire="agui")
    live, logged = AGUIEncoder(run), encoder_for(run)
    assert isinstance(logged, AGUIEncoder)
    events = _tool_turn()
    kept = [e for e in (logged.parts(event, i) for i, event in enumerate(events, 1)) if e]
    assert kept[-1][0] == b"final"
    replayed = _data(b"".join(data for _, data in kept))
    assert replayed == _data(live.head() + live.encode(1, events))
