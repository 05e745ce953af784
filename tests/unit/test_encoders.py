"""Each wire encoder, fed run events directly: the chat API's frames (ids are event positions,
``retry:`` once, ``final`` with the reply, ``error`` with its code) and LangGraph's stream
modes (metadata first, messages-tuple per token, what the run log keeps of them)."""

from __future__ import annotations

import orjson

from app.errors import UpstreamTimeout
from app.runs.events import MessageStarted, Step, StepFinished, StepStarted, ToolInputChunk
from app.wire.chat import ChatEncoder
from app.wire.codec import encoder_for
from app.wire.langgraph import LangGraphEncoder, LogReader
from tests.unit.support import reply, spec


def _parse(raw: bytes) -> list[dict[str, str]]:
    """Frames as an SSE client reads them (``retry:`` lines are not frames)."""
    parsed = []
    for block in raw.decode().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if not line.startswith("retry:")
        )
        if "data" in fields:
            parsed.append(fields)
    return parsed


def test_chat_frames_carry_event_positions_and_retry_once() -> None:
    """Text deltas are chunk frames with ids from ``first_id``; ``retry:`` opens the response."""
    encoder = ChatEncoder(spec(), retry_ms=1000)

    first = encoder.encode(1, ["Hel", "lo"])
    second = encoder.encode(3, ["!"])

    assert first.startswith(b"retry: 1000\n")
    assert not second.startswith(b"retry:")
    parsed = _parse(first + second)
    assert [f["id"] for f in parsed] == ["1", "2", "3"]
    assert [orjson.loads(f["data"]) for f in parsed] == [
        {"type": "chunk", "content": c} for c in ("Hel", "lo", "!")
    ]
    assert encoder.last_id == 3


def test_chat_final_frame_holds_the_reply_and_its_metadata() -> None:
    """The reply is one ``final`` frame: text, attachments, metadata with the graph type."""
    run_spec = spec()
    encoder = ChatEncoder(run_spec)

    (final,) = _parse(encoder.encode(4, [reply("Hello")]))

    assert final["event"] == "final" and final["id"] == "4"
    body = orjson.loads(final["data"])
    assert body["text"] == "Hello" and body["attachments"] == []
    assert body["metadata"]["graphType"] == run_spec.graph.ref
    assert body["metadata"]["threadId"] == run_spec.thread_id


def test_chat_tool_steps_are_stream_events_a_chunk_reader_can_skip() -> None:
    """Tool steps travel as ``stream_event`` frames of their own types, never as chunks."""
    encoder = ChatEncoder(spec())
    events = [
        StepStarted("call-1", "calculator", 0),
        ToolInputChunk("call-1", '{"expression":'),
        StepFinished(Step("call-1", "calculator", {"expression": "2+2"}, "4", "success")),
    ]

    parsed = [orjson.loads(f["data"]) for f in _parse(encoder.encode(1, events))]

    assert [f["type"] for f in parsed] == ["step_started", "tool_input_chunk", "step_finished"]
    assert parsed[0]["step"] == {
        "id": "call-1",
        "type": "tool_use",
        "name": "calculator",
        "index": 0,
    }
    assert parsed[1] == {"type": "tool_input_chunk", "stepId": "call-1", "chunk": '{"expression":'}
    assert parsed[2]["step"]["output"] == "4" and parsed[2]["step"]["status"] == "success"


def test_chat_error_frame_has_the_code_the_message_and_the_request_id() -> None:
    """After the first byte a failure is an ``event: error`` frame with the envelope's fields."""
    run_spec = spec()
    encoder = ChatEncoder(run_spec)

    (error,) = _parse(encoder.error(7, UpstreamTimeout("The model provider timed out.")))

    assert error["event"] == "error" and error["id"] == "7"
    body = orjson.loads(error["data"])
    assert body["code"] == "upstream_timeout"
    assert body["requestId"] == run_spec.request_id
    assert "timed out" in body["message"]


def test_the_codec_picks_the_encoder_of_the_api_that_started_the_run() -> None:
    """A spec's ``wire`` names its format: the chat API's, or LangGraph's with its modes."""
    assert isinstance(encoder_for(spec()), ChatEncoder)
    langgraph = encoder_for(spec(wire="langgraph", stream_modes=("messages-tuple",)))
    assert isinstance(langgraph, LangGraphEncoder)


def test_langgraph_messages_tuple_frames_name_the_message_each_token_belongs_to() -> None:
    """metadata first, then one ``messages`` frame per token with the message's id."""
    encoder = LangGraphEncoder("run-1", ["messages-tuple"])
    started = MessageStarted("msg-1", {"langgraph_node": "model"}, "Hel")

    head = _parse(encoder.head())
    body = _parse(encoder.encode(1, [started, "lo"]))

    assert head[0]["event"] == "metadata"
    assert orjson.loads(head[0]["data"])["run_id"] == "run-1"
    assert [f["event"] for f in body] == ["messages", "messages"]
    chunks = [orjson.loads(f["data"]) for f in body]
    assert [c[0]["content"] for c in chunks] == ["Hel", "lo"]
    assert {c[0]["id"] for c in chunks} == {"msg-1"}
    assert chunks[0][1]["langgraph_node"] == "model"


def test_langgraph_log_entries_are_compact_and_read_back_as_the_live_frames() -> None:
    """The run log keeps a token as its text; its reader rebuilds the frame a live client got."""
    live = LangGraphEncoder("run-1", ["messages-tuple"])
    logged = LangGraphEncoder("run-1", ["messages-tuple"])
    events = [MessageStarted("msg-1", {"langgraph_node": "model"}, "Hel"), "lo"]

    expected = live.encode(1, events)
    entries = [logged.parts(event, position) for position, event in enumerate(events, 1)]

    assert entries[1] == (b"t", b'"lo"')
    reader = LogReader(None)
    rebuilt = b"".join(
        reader.frame(position, *entry)
        for position, entry in enumerate(entries, 1)
        if entry is not None
    )
    assert rebuilt == expected


def test_a_reply_that_names_no_model_shows_the_one_that_answered() -> None:
    """A cancelled turn's reply has no model of its own: offline says offline, not the
    settings' model."""
    offline = ChatEncoder(spec()).parts(reply("partial", model=None, provider="offline"))
    online = ChatEncoder(spec()).parts(reply("partial", model=None, provider="openai"))

    assert offline is not None and orjson.loads(offline[1])["metadata"]["model"] == "offline"
    assert online is not None and orjson.loads(online[1])["metadata"]["model"] == "gpt-4o-mini"
