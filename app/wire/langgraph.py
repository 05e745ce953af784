"""The LangGraph API's wire format: ``event: <mode>`` frames for the stream modes a run asks
for, as ``langgraph-api`` sends them.

``messages-tuple`` frames are built from the run's model deltas (:class:`MessageStarted`, text,
tool-call chunks), the same events the chat API's chunk frames come from: each message's constant
part (its id and its metadata) is encoded once, and a token costs one ``orjson.dumps`` of its
text and a bytes join, as a chat chunk does. Messages no model streamed (a tool's result) come
from the graph's ``updates``. The graph's own modes (``values``, ``updates``, ``custom``,
``debug``, ``events``) are its :class:`GraphChunk` items, serialised as they are.

A frame's id is its event's position in the run, as in the chat API's view, so a client rejoins
with ``Last-Event-ID`` the same way through either API.

A run taken over by another replica shows nothing of its :class:`Reset` (langgraph-api has no
such event): the step runs again as a new model call, whose messages have new ids, and until
its first message starts no delta is shown, rather than under the message the dead replica
was streaming.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

import orjson
from langchain_core.messages import BaseMessage

from app.errors import AppError
from app.runs.events import (
    GraphChunk,
    MessageStarted,
    Reply,
    Reset,
    RunEvent,
    StepStarted,
    ToolInputChunk,
)
from app.wire.json import dumps
from app.wire.sse import frame

# The run metadata a message's frames leave out: the server's own binding of the thread (its
# owner travels in no frame) and what only tracing reads.
_UNSHOWN = frozenset(
    {"graph_name", "graph_version", "user_id", "request_id", "lc_versions", "ls_integration"}
)


def message_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A streamed message's metadata as the messages modes show it: the node, step and
    namespace it came from, the model, and the run's own metadata."""
    shown = {k: v for k, v in metadata.items() if k not in _UNSHOWN}
    if "request_id" in metadata:
        shown["run_id"] = metadata["request_id"]
    return shown


class _Message:
    """The constant parts of one streamed message's ``messages-tuple`` frames."""

    __slots__ = ("calls", "content", "id", "metadata", "suffix")

    def __init__(self, message_id: str, metadata: Mapping[str, Any]) -> None:
        self.id = message_id
        self.metadata = dumps(message_metadata(metadata))
        # For the ``messages`` mode's partial messages: the text and tool calls so far.
        self.content: list[str] = []
        self.calls: dict[str, dict[str, Any]] = {}
        self.suffix = (
            b',"additional_kwargs":{},"response_metadata":{},"type":"AIMessageChunk",'
            b'"name":null,"id":%s,"tool_calls":[],"invalid_tool_calls":[],'
            b'"usage_metadata":null,"tool_call_chunks":[]},%s]'
        ) % (orjson.dumps(message_id), self.metadata)


_TUPLE_HEAD = b'event: messages\ndata: [{"content":'


def tuple_frame(frame_id: int, text: bytes, suffix: bytes) -> bytes:
    """A token's ``messages-tuple`` frame: its JSON-encoded ``text`` between the message's
    constant parts."""
    return b"id: %d\n%s%s%s\n\n" % (frame_id, _TUPLE_HEAD, text, suffix)


class LangGraphEncoder:
    """Encodes one run's events as the frames of the stream modes ``modes``."""

    def __init__(self, run_id: str, modes: Collection[str], *, subgraphs: bool = False) -> None:
        self._run_id = run_id
        self._modes = frozenset(modes)
        self._tuples = "messages-tuple" in self._modes
        self._partials = "messages" in self._modes
        self._subgraphs = subgraphs
        self._message: _Message | None = None
        self._seen: set[str] = set()  # ids of the messages streamed so far
        self.last_id = 0

    def head(self) -> bytes:
        """The first frame of every response: which run it is."""
        return frame(None, b"metadata", dumps({"run_id": self._run_id, "attempt": 1}))

    def prime(self, events: Sequence[RunEvent]) -> None:
        """Catch up with ``events`` (the ones before a rejoining client's position) without
        sending them: which message the next deltas belong to, which were streamed."""
        for event in events:
            started = event.message if isinstance(event, StepStarted) else event
            if isinstance(started, MessageStarted):
                self._start(started)
            elif isinstance(event, Reset):
                self._message = None

    def resume(self, logged: Sequence[bytes]) -> None:
        """Catch up with the run's log entries written before a takeover: nothing to do, as
        the run goes on with a :class:`Reset`, after which the deltas wait for the message
        that starts next."""

    def encode(self, first_id: int, events: Sequence[RunEvent]) -> bytes:
        out: list[bytes] = []
        frame_id = first_id
        tuples = self._tuples
        for event in events:
            if isinstance(event, str):
                if tuples and self._message is not None:
                    out.append(tuple_frame(frame_id, orjson.dumps(event), self._message.suffix))
                if self._partials and self._message is not None:
                    out.append(self._partial(frame_id, event))
            else:
                out.extend(self._frames(frame_id, event))
            frame_id += 1
        self.last_id = frame_id - 1
        return b"".join(out)

    def parts(self, event: RunEvent, position: int) -> tuple[bytes, bytes] | None:
        """For the run log: the frames of the event at ``position``, whole (ids included),
        under the name ``*``; ``None`` when the event shows nothing in this view. The log
        asks in order, so the encoder follows the run's messages as a live client's does.

        A token of a ``messages-tuple`` view is logged as its text alone (``t``), and the
        start of a message (``m``) carries the message's constant part before its frames, so
        that a token costs the log tens of bytes rather than a whole frame; a reader
        (:func:`log_frames`) puts the frames back together."""
        if isinstance(event, Reply):  # shows nothing, but tells a log's reader the run ended
            return b"final", b""
        compact = self._tuples and not self._partials
        if compact and isinstance(event, str):
            return (b"t", orjson.dumps(event)) if self._message is not None else None
        data = self.encode(position, [event])
        if compact and isinstance(event, MessageStarted) and self._message is not None:
            return b"m", b"%s\n%s" % (self._message.suffix, data)
        return (b"*", data) if data else None

    def error_parts(self, error: AppError) -> tuple[bytes, bytes]:
        return b"error", dumps({"error": error.code, "message": error.message})

    def error(self, frame_id: int, error: AppError) -> bytes:
        self.last_id = frame_id
        return frame(frame_id, *self.error_parts(error))

    # -- one event -----------------------------------------------------------------------

    def _start(self, started: MessageStarted) -> _Message:
        message = _Message(started.id, started.metadata)
        self._message = message
        self._seen.add(started.id)
        return message

    def _started(self, frame_id: int, started: MessageStarted) -> Iterator[bytes]:
        message = self._start(started)
        if self._partials:
            data = b'{%s:{"metadata":%s}}' % (orjson.dumps(message.id), message.metadata)
            yield frame(frame_id, b"messages/metadata", data)

    def _frames(self, frame_id: int, event: RunEvent) -> Iterator[bytes]:
        if isinstance(event, MessageStarted):
            yield from self._started(frame_id, event)
            if event.text:
                yield self.encode(frame_id, [event.text])
            return
        if isinstance(event, StepStarted):
            if event.message is not None:
                yield from self._started(frame_id, event.message)
            message = self._message
            if message is None:  # a tool no streamed model named: its result shows later
                return
            if self._tuples:
                chunk = {"name": event.name, "args": "", "id": event.id, "index": event.index}
                yield self._tool_chunk(frame_id, chunk)
            if self._partials:
                message.calls[event.id] = {"name": event.name, "args": "", "id": event.id}
                yield self._partial(frame_id, "")
            return
        if isinstance(event, ToolInputChunk):
            message = self._message
            if message is None:
                return
            if self._tuples:
                chunk = {"name": None, "args": event.chunk, "id": None, "index": None}
                yield self._tool_chunk(frame_id, chunk)
            if self._partials and event.step_id in message.calls:
                message.calls[event.step_id]["args"] += event.chunk
                yield self._partial(frame_id, "")
            return
        if isinstance(event, GraphChunk):
            yield from self._graph_chunk(frame_id, event)
            return
        if isinstance(event, Reset):
            self._message = None
            return
        # Tool output and step ends show through updates (the tool's message), the reply
        # through values: the other events yield no frame of their own.

    def _tool_chunk(self, frame_id: int, chunk: dict[str, Any]) -> bytes:
        message = self._message
        assert message is not None
        data: dict[str, Any] = {
            "content": "",
            "additional_kwargs": {},
            "response_metadata": {},
            "type": "AIMessageChunk",
            "name": None,
            "id": message.id,
            "tool_calls": [],
            "invalid_tool_calls": [],
            "usage_metadata": None,
            "tool_call_chunks": [{**chunk, "type": "tool_call_chunk"}],
        }
        return frame(frame_id, b"messages", b"[%s,%s]" % (dumps(data), message.metadata))

    def _partial(self, frame_id: int, text: str) -> bytes:
        message = self._message
        assert message is not None
        if text:
            message.content.append(text)
        data: dict[str, Any] = {
            "content": "".join(message.content),
            "additional_kwargs": {},
            "response_metadata": {},
            "type": "AIMessageChunk",
            "name": None,
            "id": message.id,
            "tool_calls": [
                {"name": c["name"], "args": _args(c["args"]), "id": c["id"], "type": "tool_call"}
                for c in message.calls.values()
            ],
            "invalid_tool_calls": [],
            "usage_metadata": None,
            "tool_call_chunks": [
                {**c, "index": i, "type": "tool_call_chunk"}
                for i, c in enumerate(message.calls.values())
            ],
        }
        return frame(frame_id, b"messages/partial", dumps([data]))

    def _graph_chunk(self, frame_id: int, chunk: GraphChunk) -> Iterator[bytes]:
        mode = chunk.mode
        name = mode.encode()
        if chunk.namespace:
            if not self._subgraphs:
                return
            name = b"%s|%s" % (name, "|".join(chunk.namespace).encode())
        if mode == "updates" and (self._tuples or self._partials) and not chunk.namespace:
            # As LangGraph's messages mode does: a node's unstreamed messages (a tool's
            # result) before the node's update.
            yield from self._unstreamed(frame_id, chunk.data)
        if mode in self._modes:
            yield frame(frame_id, name, dumps(chunk.data))
        elif (
            mode == "updates"
            and isinstance(chunk.data, dict)
            and chunk.data.get("__interrupt__")
            and not chunk.namespace
        ):
            # As langgraph-api does: a client that did not ask for updates still learns of
            # the interrupt, as a values frame (useStream reads it there).
            yield frame(frame_id, b"values", dumps(chunk.data))

    def _unstreamed(self, frame_id: int, update: Any) -> Iterator[bytes]:
        """The messages a node wrote that no model streamed (a tool's result, a message a
        node made itself), whole, as LangGraph's messages mode sends them."""
        if not isinstance(update, dict):
            return
        for node, values in update.items():
            if node.startswith("__") or not isinstance(values, dict):
                continue
            for message in _messages_in(values):
                if message.id is None or message.id in self._seen:
                    continue
                self._seen.add(message.id)
                metadata = {"langgraph_node": node, "langgraph_checkpoint_ns": ""}
                if self._tuples:
                    yield frame(frame_id, b"messages", dumps([message, metadata]))
                if self._partials:
                    yield frame(
                        frame_id,
                        b"messages/metadata",
                        dumps({message.id: {"metadata": metadata}}),
                    )
                    yield frame(frame_id, b"messages/complete", dumps([message]))


def _args(text: str) -> Any:
    """A tool call's arguments so far, as far as they parse (as langchain's partial JSON)."""
    try:
        return orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        return {}


def _messages_in(values: Mapping[str, Any]) -> Iterator[BaseMessage]:
    for value in values.values():
        if isinstance(value, BaseMessage):
            yield value
        elif isinstance(value, list):
            yield from (item for item in value if isinstance(item, BaseMessage))


class LogReader:
    """Frames again from a run log's entries (see :meth:`LangGraphEncoder.parts`)."""

    __slots__ = ("suffix",)

    def __init__(self, message_start: bytes | None = None) -> None:
        # The constant part of the message the next tokens belong to.
        self.suffix = message_start.partition(b"\n")[0] if message_start else b""

    def frame(self, position: int, name: bytes, data: bytes) -> bytes:
        if name == b"t":
            return tuple_frame(position, data, self.suffix) if self.suffix else b""
        if name == b"m":
            self.suffix, _, data = data.partition(b"\n")
            return data
        if name == b"*":
            return data
        if name == b"error":
            return frame(position, b"error", data)
        return b""  # final: the end, which shows nothing
