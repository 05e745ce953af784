"""What the AI SDK's UI message stream and AG-UI share: events as ``data: <json>`` lines, a
text delta as its one line between constant bytes, and a run-log copy that starts with the
response's head, so that another replica replays a run from the log as a whole response."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from app.errors import AppError
from app.runs.events import Reply, RunEvent


class DataStream:
    """The base of an encoder whose text deltas go out as ``<delta head><json text>}``.

    A subclass writes its head (:meth:`head`), opens a text block (:meth:`_open_text`: sets
    ``_text`` and ``_delta_head``), encodes every other event (:meth:`_event`) and a failure
    (:meth:`failure`)."""

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
