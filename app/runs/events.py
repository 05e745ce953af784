"""What a run produces, as typed events; wire formats are encoders over them (``app/encoders``).

A text delta travels as the ``str`` itself: it is nearly every event of a run, so it gets no
wrapper object. Tool steps are the other events, in the order they happen. The run ends with a
:class:`Reply` (or raises an ``AppError``). Nothing here knows about SSE.

Two events exist for the views that show more than the reply: :class:`MessageStarted` names the
model message that the text and tool-call deltas after it belong to, and :class:`GraphChunk`
carries one item of the graph's own stream modes (``values``, ``updates``, ...), produced only
for runs that ask for them (the LangGraph API). An encoder skips what its view does not show.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "GraphChunk",
    "Interrupt",
    "MessageStarted",
    "Reply",
    "Reset",
    "RunEvent",
    "Step",
    "StepFinished",
    "StepStarted",
    "TextDelta",
    "ToolInputChunk",
    "ToolOutputChunk",
]

TextDelta = str


@dataclass(frozen=True, slots=True)
class MessageStarted:
    """The first text delta of a streamed model message: ``text``, and whose it is. The text
    and tool-call deltas after it, up to the next one, belong to message ``id``. ``metadata``
    is the model call's run metadata (node, step, checkpoint namespace, model), as LangGraph's
    messages stream mode reports it. (It carries its text rather than coming before it so
    that every event is one frame of the chat API's view, whose frame ids are event positions.)"""

    id: str
    metadata: Mapping[str, Any]
    text: str


@dataclass(frozen=True, slots=True)
class GraphChunk:
    """One item of the graph's own stream mode ``mode`` (``values``, ``updates``, ``custom``,
    ``debug``, ``events``), from the (sub)graph at ``namespace`` (empty: the root)."""

    mode: str
    namespace: tuple[str, ...]
    data: Any


@dataclass(frozen=True, slots=True)
class StepStarted:
    """The model named a tool to call (or a tool started that no streamed model named)."""

    id: str
    name: str
    index: int  # order of the step within the turn
    # When the step is the first thing a streamed model message wrote: that message.
    message: MessageStarted | None = None


@dataclass(frozen=True, slots=True)
class ToolInputChunk:
    """A piece of a tool call's arguments as the model writes them."""

    step_id: str
    chunk: str


@dataclass(frozen=True, slots=True)
class ToolOutputChunk:
    """A piece (or the whole) of what a tool returned."""

    step_id: str
    chunk: str


@dataclass(frozen=True, slots=True)
class Step:
    """A finished tool step."""

    id: str
    name: str
    input: Any
    output: str
    status: Literal["success", "error"]


@dataclass(frozen=True, slots=True)
class StepFinished:
    step: Step


@dataclass(frozen=True, slots=True)
class Interrupt:
    """The graph stopped to ask the user; ``value`` is what it passed to ``interrupt()``."""

    id: str
    value: Any
    step_id: str | None = None  # the tool step that asked, when a tool did


@dataclass(frozen=True, slots=True)
class Reset:
    """What was streamed of the turn before this is void: the replica running it died and
    another took it over, going on from the thread's last checkpoint. The turn's text after
    the last reset is its whole reply."""

    reason: str = "replica_lost"


@dataclass(frozen=True)
class Reply:
    """The end of a turn: what becomes the ``final`` frame and the ``/generate`` body."""

    text: str
    model: str | None
    provider: str
    usage: Mapping[str, int] | None  # summed over every model call of the turn
    finish_reason: str | None
    ttft_ms: float | None
    total_ms: float
    steps: Sequence[Step] = ()
    attachments: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    interrupt: Interrupt | None = None
    text_deltas: int = 0  # text events the turn streamed


RunEvent = (
    TextDelta
    | MessageStarted
    | StepStarted
    | ToolInputChunk
    | ToolOutputChunk
    | StepFinished
    | GraphChunk
    | Reset
    | Reply
)
