"""A run another replica takes over: the dead replica's encoder logged part of a turn, a fresh
encoder catches up with that log (``resume``) and goes on after it with the ``Reset`` and the
restarted step. The log as a whole must be one valid response for the AI SDK's and AG-UI's own
clients (checked here in Python by their order rules, and by the clients themselves over a
socket); the chat API shows the reset as a frame, LangGraph's view starts the next message
afresh."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from ag_ui.core import CustomEvent, Event
from ag_ui.encoder import EventEncoder
from pydantic import TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.runs.events import (
    MessageStarted,
    Reset,
    RunEvent,
    Step,
    StepFinished,
    StepStarted,
    ToolInputChunk,
    ToolOutputChunk,
)
from app.wire.aisdk import HEADERS
from app.wire.chat import ChatEncoder
from app.wire.codec import encoder_for
from app.wire.data_stream import logged_parts
from app.wire.langgraph import LangGraphEncoder
from tests.frontends.node_clients import ag_ui, ai_chat
from tests.support.live_server import serving
from tests.unit.support import reply, spec

EVENT: TypeAdapter[Any] = TypeAdapter(Event)
BASE = 1_000_000  # where a taken-over run's positions go on (app.runs.takeover.next_base)
ARGS = '{"expression": "6*7"}'


@dataclass(frozen=True)
class Cut:
    """Where the dead replica stopped: what it logged, and what the run does once taken over."""

    name: str
    before: list[RunEvent]
    after: list[RunEvent]


def _calc(call: str, output: str = "42") -> StepFinished:
    return StepFinished(Step(call, "calculator", {"expression": "6*7"}, output, "success"))


def _cuts() -> list[Cut]:
    """Each cut's ids carry its name: the clients keep one conversation across them."""

    def model_then_tool(p: str) -> list[RunEvent]:
        return [MessageStarted(f"{p}m1", {}, "Let me"), StepStarted(f"{p}c1", "calculator", 0)]

    def tool_again(p: str, output: str = "42") -> list[RunEvent]:
        # A fresh Tap starts the tool of a checkpointed call again (no model names it now).
        return [
            Reset(),
            StepStarted(f"{p}c1", "calculator", 0),
            ToolOutputChunk(f"{p}c1", output),
            _calc(f"{p}c1", output),
            MessageStarted(f"{p}m2", {}, "It is 42."),
            reply("It is 42."),
        ]

    text = "text"
    streaming = "streaming"
    waiting = "waiting"
    running = "running"
    done = "done"
    return [
        Cut(
            text,
            [MessageStarted(f"{text}m1", {}, "Let me"), " chec"],
            [
                Reset(),
                MessageStarted(f"{text}m2", {}, "Let me"),
                " check: 42.",
                reply("Let me check: 42."),
            ],
        ),
        Cut(  # the model's step was not checkpointed: it runs again, with new calls
            streaming,
            [*model_then_tool(streaming), ToolInputChunk(f"{streaming}c1", '{"expres')],
            [
                Reset(),
                MessageStarted(f"{streaming}m2", {}, "Checking."),
                StepStarted(f"{streaming}c2", "calculator", 0),
                ToolInputChunk(f"{streaming}c2", ARGS),
                ToolOutputChunk(f"{streaming}c2", "42"),
                _calc(f"{streaming}c2"),
                MessageStarted(f"{streaming}m3", {}, "It is 42."),
                reply("It is 42."),
            ],
        ),
        Cut(  # the model's step was checkpointed, its tool had not started
            waiting,
            [*model_then_tool(waiting), ToolInputChunk(f"{waiting}c1", ARGS)],
            tool_again(waiting),
        ),
        Cut(  # the tool had started (its input announced), its outcome not logged
            running,
            [
                *model_then_tool(running),
                ToolInputChunk(f"{running}c1", ARGS),
                ToolOutputChunk(f"{running}c1", "4"),
            ],
            tool_again(running),
        ),
        Cut(  # the tool had finished, its node's checkpoint not written: it runs again
            done,
            [
                *model_then_tool(done),
                ToolInputChunk(f"{done}c1", ARGS),
                ToolOutputChunk(f"{done}c1", "41"),
                _calc(f"{done}c1", "41"),
            ],
            tool_again(done),
        ),
    ]


CUTS = _cuts()
NAMES = [cut.name for cut in CUTS]


def _taken_over(wire: str, cut: Cut, thread_id: str = "t1") -> bytes:
    """The run log's data: the dead replica's entries, then the taking-over encoder's."""
    run = spec(thread_id, wire=wire)
    dead = encoder_for(run)
    logged = [p[1] for p in (dead.parts(e, i) for i, e in enumerate(cut.before, 1)) if p]
    taker = encoder_for(run)
    taker.resume(logged)
    went_on = [p[1] for p in (taker.parts(e, i) for i, e in enumerate(cut.after, BASE + 1)) if p]
    return b"".join(logged + went_on)


def _parts(data: bytes) -> list[dict[str, Any]]:
    return list(logged_parts(data))


def _ui_stream_violations(parts: list[dict[str, Any]]) -> list[str]:
    """The order ``processUIMessageStream`` and ``useChat`` hold a response to."""
    wrong: list[str] = []
    texts: set[str] = set()  # open text blocks
    used: set[str] = set()  # every text id so far
    step = False
    started: dict[str, str] = {}  # call -> "streaming" | "available" | "error"
    for index, part in enumerate(parts):
        kind, at = part["type"], f"{index}: {part}"
        if (kind == "start") != (index == 0):
            wrong.append(f"start only first, {at}")
        if kind == "start-step":
            if step:
                wrong.append(f"a step in a step, {at}")
            step = True
        elif kind == "finish-step":
            if not step or texts:
                wrong.append(f"finish-step with no step or an open text, {at}")
            step = False
        elif kind == "text-start":
            if not step or part["id"] in used:
                wrong.append(f"text-start outside a step or of a used id, {at}")
            texts.add(part["id"])
            used.add(part["id"])
        elif kind in ("text-delta", "text-end"):
            if part["id"] not in texts:
                wrong.append(f"{kind} of no open text, {at}")
            if kind == "text-end":
                texts.discard(part["id"])
        elif kind == "tool-input-start":
            if not step or part["toolCallId"] in started:
                wrong.append(f"tool-input-start outside a step or again, {at}")
            started[part["toolCallId"]] = "streaming"
        elif kind == "tool-input-delta":
            if started.get(part["toolCallId"]) != "streaming":
                wrong.append(f"tool-input-delta of no streaming call, {at}")
        elif kind in ("tool-input-available", "tool-input-error"):
            if started.get(part["toolCallId"]) != "streaming":
                wrong.append(f"{kind} of no streaming call, {at}")
            started[part["toolCallId"]] = "available" if kind.endswith("available") else "error"
        elif kind.startswith("tool-output-"):
            if started.get(part["toolCallId"]) != "available":
                wrong.append(f"{kind} of a call whose input is not available, {at}")
        elif kind == "finish" and (step or texts or index != len(parts) - 1):
            wrong.append(f"finish not last, or with a step or text open, {at}")
    return wrong


def _ag_ui_violations(events: list[dict[str, Any]]) -> list[str]:
    """The order ``@ag-ui/client``'s verifier holds a run to, and one start and one result a
    call (its reducer would add a second result as a second tool message)."""
    wrong: list[str] = []
    texts: set[str] = set()
    calls: set[str] = set()
    starts: list[str] = []
    results: list[str] = []
    for index, event in enumerate(events):
        EVENT.validate_python(event)
        kind, at = event["type"], f"{index}: {event}"
        if (kind == "RUN_STARTED") != (index == 0):
            wrong.append(f"RUN_STARTED only first, {at}")
        if kind == "TEXT_MESSAGE_START":
            if event["messageId"] in texts:
                wrong.append(f"a message started twice, {at}")
            texts.add(event["messageId"])
        elif kind in ("TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END"):
            if event["messageId"] not in texts:
                wrong.append(f"{kind} of no open message, {at}")
            if kind == "TEXT_MESSAGE_END":
                texts.discard(event["messageId"])
        elif kind == "TOOL_CALL_START":
            if event["toolCallId"] in calls:
                wrong.append(f"a call started while open, {at}")
            calls.add(event["toolCallId"])
            starts.append(event["toolCallId"])
        elif kind in ("TOOL_CALL_ARGS", "TOOL_CALL_END"):
            if event["toolCallId"] not in calls:
                wrong.append(f"{kind} of no open call, {at}")
            if kind == "TOOL_CALL_END":
                calls.discard(event["toolCallId"])
        elif kind == "TOOL_CALL_RESULT":
            results.append(event["toolCallId"])
        elif kind == "RUN_FINISHED" and (texts or calls or index != len(events) - 1):
            wrong.append(f"RUN_FINISHED not last, or with a message or call open, {at}")
    for seen, what in ((starts, "starts"), (results, "results")):
        if len(seen) != len(set(seen)):
            wrong.append(f"a call with two {what}: {seen}")
    return wrong


def _split(parts: list[dict[str, Any]], is_reset: Callable[[dict[str, Any]], bool]) -> int:
    (at,) = [i for i, part in enumerate(parts) if is_reset(part)]
    return at


# -- the AI SDK ------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", CUTS, ids=NAMES)
def test_ai_sdk_log_goes_on_after_a_takeover_as_one_valid_response(cut: Cut) -> None:
    """One ``start``, what the dead replica left open closed before ``data-reset``, new text
    ids after it, and every part in the order the client checks."""
    data = _taken_over("aisdk", cut)
    parts = _parts(data)

    assert data.endswith(b"data: [DONE]\n\n")
    assert _ui_stream_violations(parts) == []
    at = _split(parts, lambda p: p["type"] == "data-reset")
    assert parts[at] == {
        "type": "data-reset",
        "data": {"reason": "replica_lost"},
        "transient": True,
    }
    kinds = [p["type"] for p in parts]
    before = parts[:at]
    opened = {p["id"] for p in before if p["type"] == "text-start"}
    closed = {p["id"] for p in before if p["type"] == "text-end"}
    assert opened == closed
    assert kinds[:at].count("start-step") == kinds[:at].count("finish-step")


def test_ai_sdk_after_a_takeover_a_call_the_model_makes_again_is_void() -> None:
    """A call whose input was streaming when the replica died ends with ``tool-input-error``
    once the model writes again; the new call goes through."""
    parts = _parts(_taken_over("aisdk", CUTS[1]))
    at = _split(parts, lambda p: p["type"] == "data-reset")

    void = parts[at + 1]
    assert void["type"] == "tool-input-error"
    assert void["toolCallId"] == "streamingc1"
    assert void["input"] == '{"expres'
    assert parts[at + 2]["type"] == "start-step"
    outputs = [p for p in parts if p["type"] == "tool-output-available"]
    assert [p["toolCallId"] for p in outputs] == ["streamingc2"]


@pytest.mark.parametrize("cut", CUTS[2:], ids=NAMES[2:])
def test_ai_sdk_after_a_takeover_a_tool_run_again_shows_on_the_call_the_client_has(
    cut: Cut,
) -> None:
    """The re-run tool's call is not started again; its input is announced once, with the
    arguments the log holds, and its outcome comes after the reset."""
    parts = _parts(_taken_over("aisdk", cut))
    at = _split(parts, lambda p: p["type"] == "data-reset")
    call = f"{cut.name}c1"

    of_call = [p for p in parts if p.get("toolCallId") == call]
    assert [p["type"] for p in of_call].count("tool-input-start") == 1
    (available,) = [p for p in of_call if p["type"] == "tool-input-available"]
    assert available["input"] == {"expression": "6*7"}
    assert parts[at + 1 :].count(
        {"type": "tool-output-available", "toolCallId": call, "output": "42"}
    )


def test_ai_sdk_resume_of_an_empty_log_writes_the_head() -> None:
    """A replica that died before its first entry left no head: the reset's entry brings it."""
    run = spec(wire="aisdk")
    taker = encoder_for(run)
    taker.resume([])

    parts = taker.parts(Reset(), BASE + 1)

    assert parts is not None
    kinds = [p["type"] for p in logged_parts(parts[1])]
    assert kinds == ["start", "data-reset"]


# -- AG-UI -----------------------------------------------------------------------------------


@pytest.mark.parametrize("cut", CUTS, ids=NAMES)
def test_ag_ui_log_goes_on_after_a_takeover_as_one_valid_run(cut: Cut) -> None:
    """One ``RUN_STARTED``, the open message and calls ended before the ``reset`` event (as
    AG-UI's own encoder writes it), and one start and one result a call."""
    data = _taken_over("agui", cut)
    events = _parts(data)

    assert _ag_ui_violations(events) == []
    at = _split(events, lambda e: e["type"] == "CUSTOM" and e["name"] == "reset")
    expected = EventEncoder().encode(CustomEvent(name="reset", value={"reason": "replica_lost"}))
    assert expected.encode() in data
    started = {e["toolCallId"] for e in events[:at] if e["type"] == "TOOL_CALL_START"}
    ended = {e["toolCallId"] for e in events[:at] if e["type"] == "TOOL_CALL_END"}
    assert started == ended
    if cut.name in ("waiting", "running", "done"):
        results = [e for e in events if e["type"] == "TOOL_CALL_RESULT"]
        assert [e["content"] for e in results] == ["41" if cut.name == "done" else "42"]


# -- the other views -------------------------------------------------------------------------


def test_chat_encoder_renders_a_reset_as_a_stream_event() -> None:
    """``reset`` is a ``stream_event`` frame with the reason, under its position; resume has
    nothing to catch up with."""
    encoder = ChatEncoder(spec())
    encoder.resume([b'{"type":"chunk","content":"Hel"}'])

    assert encoder.parts(Reset(), BASE + 1) == (
        b"stream_event",
        b'{"type":"reset","reason":"replica_lost"}',
    )
    frame = encoder.encode(BASE + 1, [Reset()])
    assert frame == (
        b'id: 1000001\nevent: stream_event\ndata: {"type":"reset","reason":"replica_lost"}\n\n'
    )


def test_langgraph_encoder_after_a_reset_attaches_no_delta_to_the_previous_message() -> None:
    """After the reset a delta before the next message starts shows nothing (live and in the
    log); the next message's deltas carry its own id."""
    encoder = LangGraphEncoder("run-1", ["messages-tuple"])
    encoder.encode(1, [MessageStarted("msg-1", {"langgraph_node": "model"}, "Hel")])
    encoder.resume([])

    assert encoder.encode(BASE + 1, [Reset(), "lo"]) == b""
    assert encoder.parts("lo", BASE + 3) is None
    again = encoder.encode(BASE + 4, [MessageStarted("msg-2", {}, "Hi"), " there"])
    chunks = [orjson.loads(line[6:]) for line in again.split(b"\n") if line.startswith(b"data:")]
    assert [(c[0]["id"], c[0]["content"]) for c in chunks] == [("msg-2", "Hi"), ("msg-2", " there")]


# -- the clients themselves ------------------------------------------------------------------


def _stub(path: str, bodies: list[bytes], headers: dict[str, str]) -> Starlette:
    """Answers each POST to ``path`` with the next of ``bodies``, as a stream."""
    queue = deque(bodies)

    async def answer(request: Request) -> Response:
        await request.body()
        return Response(queue.popleft(), media_type="text/event-stream", headers=headers)

    return Starlette(routes=[Route(path, answer, methods=["POST"])])


@pytest.mark.parametrize("version", ["6", "7"])
def test_ai_sdk_client_reads_every_taken_over_log_without_an_error(version: str) -> None:
    """``useChat``'s own code (AbstractChat over DefaultChatTransport) builds each message from
    the log without an error; a void call shows as an error, a re-run tool's outcome on the
    call the client has, and the reset is no part of the message."""
    bodies = [_taken_over("aisdk", cut) for cut in CUTS]
    with serving(_stub("/api/chat", bodies, dict(HEADERS))) as server:
        result = ai_chat(version, server.url, "takeover", [{"send": cut.name} for cut in CUTS])

    assert result["errors"] == []
    assert result["status"] == "ready"
    assert [f["isError"] for f in result["finishes"]] == [False] * len(CUTS)
    replies = {
        cut.name: message for cut, message in zip(CUTS, result["messages"][1::2], strict=True)
    }
    for message in replies.values():
        assert all(p["type"] != "data-reset" for p in message["parts"])
        assert all(
            p.get("state") in (None, "done", "output-available", "output-error")
            for p in message["parts"]
        )
    texts = [p["text"] for p in replies["text"]["parts"] if p["type"] == "text"]
    assert texts == ["Let me chec", "Let me check: 42."]
    calls = {
        p["toolCallId"]: p for p in replies["streaming"]["parts"] if p["type"].startswith("tool-")
    }
    assert calls["streamingc1"]["state"] == "output-error"
    assert calls["streamingc2"]["output"] == "42"
    for name in ("waiting", "running", "done"):
        (call,) = [p for p in replies[name]["parts"] if p["type"] == "tool-calculator"]
        assert (call["toolCallId"], call["input"], call["output"]) == (
            f"{name}c1",
            {"expression": "6*7"},
            "42",
        )


def test_ag_ui_client_verifies_every_taken_over_log() -> None:
    """``HttpAgent`` (its verifier, then its reducer) runs each log to ``RUN_FINISHED`` without
    an error, gets the ``reset`` event, and keeps one call and one result for a re-run tool."""
    bodies = [_taken_over("agui", cut, thread_id="takeover") for cut in CUTS]
    with serving(_stub("/ag-ui", bodies, {"x-accel-buffering": "no"})) as server:
        result = ag_ui(server.url, "takeover", [{"send": cut.name} for cut in CUTS])

    for run in result["runs"]:
        assert "error" not in run, run.get("error")
        kinds = [e["type"] for e in run["events"]]
        assert kinds[-1] == "RUN_FINISHED"
        resets = [e for e in run["events"] if e["type"] == "CUSTOM"]
        assert [(e["name"], e["value"]) for e in resets] == [("reset", {"reason": "replica_lost"})]
    messages = result["messages"]
    for name in ("waiting", "running", "done"):
        results = [m for m in messages if m.get("toolCallId") == f"{name}c1"]
        assert len(results) == 1
        carrying = [m for m in messages for c in m.get("toolCalls") or [] if c["id"] == f"{name}c1"]
        assert len(carrying) == 1
