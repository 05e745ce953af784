"""Server-Sent Event frames, encoded once to bytes.

Frames are built here rather than through ``ServerSentEvent`` because a chunk frame is sent for
every token: one ``orjson.dumps`` and one bytes join per token is all the work it needs.
"""

from __future__ import annotations

from typing import Any

import orjson

_CHUNK_HEAD = b'event: stream_event\ndata: {"type":"chunk","content":'


def chunk_frame(frame_id: int, content: str) -> bytes:
    return b"id: %d\n%s%s}\n\n" % (frame_id, _CHUNK_HEAD, orjson.dumps(content))


def event_frame(frame_id: int, event: str, data: Any) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (frame_id, event.encode(), orjson.dumps(data))


def ping_comment() -> bytes:
    return b": ping\n\n"
