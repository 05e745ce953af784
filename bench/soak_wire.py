"""What the soak's clients read off the wire: SSE frames out of a byte buffer, a frame's id, event
and JSON data, and an error response's code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import orjson


def sse_frames(buffer: bytearray) -> Iterator[bytes]:
    """Pop every complete SSE frame off ``buffer`` (frames end with a blank line)."""
    while True:
        cuts = [
            (i, n) for sep, n in ((b"\n\n", 2), (b"\r\n\r\n", 4)) if (i := buffer.find(sep)) >= 0
        ]
        if not cuts:
            return
        cut, size = min(cuts)
        frame = bytes(buffer[:cut])
        del buffer[: cut + size]
        yield frame


def frame_data(frame: bytes) -> Any:
    for line in frame.splitlines():
        if line.startswith(b"data:"):
            return orjson.loads(line[5:])
    return None


def frame_id(frame: bytes) -> int | None:
    """The frame's ``id:``, or None (a ping is a comment, with none)."""
    for line in frame.splitlines():
        if line.startswith(b"id:"):
            return int(line[3:])
    return None


def frame_event(frame: bytes) -> bytes:
    for line in frame.splitlines():
        if line.startswith(b"event:"):
            return line[6:].strip()
    return b""


def error_code(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return str(response.json()["error"]["code"])
    return ""
