"""What the AI SDK's UI message stream and AG-UI share: events as ``data: <json>`` lines, a
text delta as its one line between constant bytes, and a run-log copy that starts with the
response's head, so that another replica replays a run from the log as a whole response.

A replica that takes a run over goes on with the same log: a fresh encoder catches up with what
the dead replica logged (:meth:`DataStream.resume`), so that it neither writes the head again nor
forgets what that replica left open (a text block, a step, tool calls), which the
:class:`~app.runs.events.Reset` closes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from app.errors import AppError
from app.runs.events import Reply, RunEvent


class DataStream:
    """The base of an encoder whose text deltas go out as ``<delta head><json text>}``.

    A subclass writes its head (:meth:`head`), opens a text block (:meth:`_open_text`: sets
    ``_text`` and ``_delta_head``), encodes every other event (:meth:`_event`) and a failure
    (:meth:`failure`), and takes in what another replica logged of the response
    (:meth:`_caught_up`)."""

    __slots__ = ("_delta_head", "_headless", "_text", "last_id")

    def __init__(self) -> None:
        self._text: str | None = None  # the open text block's id
        self._delta_head = b""
        self._headless = True  # the log's copy has not written its head yet
        self.last_id = 0

    def head(self) -> bytes:
        raise NotImplementedError

    def failure(self, error: AppError) -> bytes:
        raise NotImplementedError

    def _open_text(self, out: list[bytes]) -> None:
        raise NotImplementedError

    def _event(self, event: RunEvent, out: list[bytes]) -> None:
        raise NotImplementedError

    def _caught_up(self, part: dict[str, Any]) -> None:
        """Take in one event (a part) another encoder logged for this response."""
        raise NotImplementedError

    def resume(self, logged: Sequence[bytes]) -> None:
        """Catch up with the data of the run's log entries written before a takeover, in
        order (the head's entry included), without sending them."""
        for data in logged:
            if data:
                self._headless = False  # the log holds the head already
            for part in logged_parts(data):
                self._caught_up(part)

    def encode(self, first_id: int, events: Sequence[RunEvent]) -> bytes:
        out: list[bytes] = []
        for event in events:
            if isinstance(event, str):
                if self._text is None:
                    self._open_text(out)
                out.append(b"%s%s}\n\n" % (self._delta_head, orjson.dumps(event)))
            else:
                self._event(event, out)
        self.last_id = first_id + len(events) - 1
        return b"".join(out)

    def parts(self, event: RunEvent, position: int) -> tuple[bytes, bytes] | None:
        """For the run log: the event's lines, whole; ``final`` names the run's end."""
        if isinstance(event, str) and self._text is not None and not self._headless:
            # A token of an open text block, the commonest entry: its one line, directly.
            return b"*", b"%s%s}\n\n" % (self._delta_head, orjson.dumps(event))
        data = self._logged(self.encode(position, [event]))
        if isinstance(event, Reply):
            return b"final", data
        return (b"*", data) if data else None

    def error_parts(self, error: AppError) -> tuple[bytes, bytes]:
        return b"error", self._logged(self.failure(error))

    def error(self, frame_id: int, error: AppError) -> bytes:
        self.last_id = frame_id
        return self.failure(error)

    def _logged(self, data: bytes) -> bytes:
        if self._headless and data:
            self._headless = False
            return self.head() + data
        return data


def logged_parts(data: bytes) -> Iterator[dict[str, Any]]:
    """The events of one log entry's data: its ``data: <json>`` lines (``[DONE]`` left out)."""
    for line in data.split(b"\n"):
        if line.startswith(b"data: {"):
            part = orjson.loads(line[6:])
            if isinstance(part, dict):
                yield part
