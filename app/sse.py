"""Server-Sent Event frames, encoded once to bytes, and the response that sends them.

Frames are built here rather than through ``ServerSentEvent`` because a chunk frame is sent for
every token: one ``orjson.dumps`` and one bytes join per token is all the work it needs.
"""

from __future__ import annotations

from typing import Any

import orjson
from sse_starlette import EventSourceResponse
from starlette.types import Message, Send

_CHUNK_HEAD = b'event: stream_event\ndata: {"type":"chunk","content":'


def chunk_frame(frame_id: int, content: str) -> bytes:
    return b"id: %d\n%s%s}\n\n" % (frame_id, _CHUNK_HEAD, orjson.dumps(content))


def event_frame(frame_id: int, event: str, data: Any) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (frame_id, event.encode(), orjson.dumps(data))


class EventStream(EventSourceResponse):
    """sse-starlette's response (pings, disconnect watch, shutdown grace) with two changes:

    - its pings end lines with LF, as our frames do (sse-starlette's default is CRLF, which
      left one stream with two kinds of line end);
    - no cancel scope around every send when no ``send_timeout`` is set: such a scope can never
      fire, yet it cost about as much as building the frame (an anyio ``move_on_after``).
    """

    # status_code is spelled out: FastAPI reads its default off this signature for OpenAPI.
    def __init__(
        self, content: Any, status_code: int = 200, *, sep: str | None = "\n", **kwargs: Any
    ) -> None:
        super().__init__(content, status_code, sep=sep, **kwargs)

    async def _send_with_timeout(self, send: Send, message: Message) -> None:
        if self.send_timeout is None:
            await send(message)
        else:
            await super()._send_with_timeout(send, message)
