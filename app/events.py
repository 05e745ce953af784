"""What a run produces, as typed events; wire formats are encoders over them (``app/encoders``).

A text delta travels as the ``str`` itself: it is nearly every event of a run, so it gets no
wrapper object. The run ends with a :class:`Reply` (or raises an ``AppError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Reply", "RunEvent", "TextDelta"]

TextDelta = str


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


RunEvent = TextDelta | Reply
