"""The tap: a langchain callback handler that turns a model's streamed deltas and tools' runs
into run events, in order, for the declared stream nodes only; called directly, without a
graph or a model."""

from __future__ import annotations

import time
import uuid
from typing import Any

from langchain_core.messages import AIMessageChunk, ToolMessage
from langchain_core.outputs import ChatGenerationChunk
from langgraph.errors import GraphInterrupt

from app.runs.events import MessageStarted, RunEvent, StepFinished, StepStarted, ToolInputChunk
from app.runs.tap import Tap

ROOT = {"langgraph_node": "model", "langgraph_checkpoint_ns": "model:1", "langgraph_step": 1}


def _tap() -> tuple[Tap, list[RunEvent]]:
    events: list[RunEvent] = []
    return Tap(events.append, ["model"], time.perf_counter()), events


def _model(tap: Tap, metadata: dict[str, Any] = ROOT, tags: list[str] | None = None) -> uuid.UUID:
    run_id = uuid.uuid4()
    tap.on_chat_model_start({}, [[]], run_id=run_id, metadata=metadata, tags=tags)
    return run_id


def _token(tap: Tap, run_id: uuid.UUID, message: AIMessageChunk) -> None:
    tap.on_llm_new_token("", chunk=ChatGenerationChunk(message=message), run_id=run_id)


def test_text_of_a_stream_node_is_a_message_start_then_plain_deltas() -> None:
    """The first delta names its message (id and node); the rest travel as plain strings."""
    tap, events = _tap()
    run_id = _model(tap)

    for text in ("Hel", "lo", "!"):
        _token(tap, run_id, AIMessageChunk(content=text, id="msg-1"))

    first = events[0]
    assert isinstance(first, MessageStarted)
    assert (first.id, first.text, first.metadata["langgraph_node"]) == ("msg-1", "Hel", "model")
    assert events[1:] == ["lo", "!"]
    assert tap.text() == "Hello!" and tap.deltas == 3 and tap.ttft_ms is not None


def test_text_of_other_nodes_subgraphs_and_nostream_models_is_not_streamed() -> None:
    """Only the declared nodes at the root graph, untagged, reach the client."""
    tap, events = _tap()
    other = _model(tap, {**ROOT, "langgraph_node": "summarise"})
    nested = _model(tap, {**ROOT, "langgraph_checkpoint_ns": "outer:1|model:2"})
    quiet = _model(tap, ROOT, tags=["nostream"])

    for run_id in (other, nested, quiet):
        _token(tap, run_id, AIMessageChunk(content="secret", id="m"))

    assert events == [] and tap.text() == ""


def test_a_tool_call_streams_as_a_step_with_its_arguments_then_its_result() -> None:
    """The model's tool-call deltas start a step and carry its input; the tool's own run
    finishes it with its output."""
    tap, events = _tap()
    run_id = _model(tap)
    call = {"name": "calculator", "args": '{"expression"', "id": "call-1", "index": 0}
    _token(tap, run_id, AIMessageChunk(content="", id="m", tool_call_chunks=[call]))
    more = {"name": None, "args": ': "2+2"}', "id": None, "index": 0}
    _token(tap, run_id, AIMessageChunk(content="", id="m", tool_call_chunks=[more]))
    tool_run = uuid.uuid4()
    tap.on_tool_start(
        {"name": "calculator"},
        "",
        run_id=tool_run,
        metadata=ROOT,
        inputs={"expression": "2+2"},
        tool_call_id="call-1",
    )
    tap.on_tool_end(ToolMessage("4", tool_call_id="call-1"), run_id=tool_run)

    started, *chunks, finished = [e for e in events if not isinstance(e, str)]
    assert isinstance(started, StepStarted) and (started.id, started.name) == (
        "call-1",
        "calculator",
    )
    assert [c.chunk for c in chunks if isinstance(c, ToolInputChunk)] == [
        '{"expression"',
        ': "2+2"}',
    ]
    assert isinstance(finished, StepFinished)
    assert (finished.step.output, finished.step.status) == ("4", "success")
    assert tap.steps == [finished.step]


def test_an_interrupt_raised_by_a_tool_leaves_its_step_open() -> None:
    """A tool that asks the user does not finish its step: the resuming turn does."""
    tap, events = _tap()
    tool_run = uuid.uuid4()
    tap.on_tool_start(
        {"name": "save_note"}, "", run_id=tool_run, metadata=ROOT, tool_call_id="call-2"
    )
    tap.on_tool_error(GraphInterrupt(()), run_id=tool_run)

    assert [type(e) for e in events] == [StepStarted]
    assert tap.interrupted_step == "call-2" and tap.steps == []
