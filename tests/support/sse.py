"""Reading Server-Sent Events off a real socket, frame by frame, as a client would."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Frame:
    event: str
    data: Any
    id: str | None
    received: float = field(default_factory=time.monotonic)


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """Parse ``response``'s body into frames as its bytes arrive; comments are skipped."""
    event, data, frame_id = "message", [], None
    async for line in response.aiter_lines():
        if line == "":
            if data:
                yield Frame(event, json.loads("\n".join(data)), frame_id)
            event, data, frame_id = "message", [], None
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                frame_id = value


@dataclass
class Stream:
    status: int
    headers: httpx.Headers
    frames: list[Frame]
    body: Any = None  # the JSON body when the server refused before streaming

    @property
    def chunks(self) -> list[str]:
        return [
            f.data["content"]
            for f in self.frames
            if f.event == "stream_event" and f.data.get("type") == "chunk"
        ]

    @property
    def final(self) -> dict[str, Any]:
        finals = [f.data for f in self.frames if f.event == "final"]
        assert len(finals) == 1, f"expected one final frame, got {[f.event for f in self.frames]}"
        return finals[0]

    @property
    def error(self) -> dict[str, Any]:
        errors = [f.data for f in self.frames if f.event == "error"]
        assert len(errors) == 1, f"expected one error frame, got {[f.event for f in self.frames]}"
        return errors[0]


async def stream(client: httpx.AsyncClient, body: dict[str, Any], **kw: Any) -> Stream:
    """POST /stream and collect every frame (or the error body of a refusal)."""
    async with client.stream("POST", "/stream", json=body, **kw) as response:
        if response.status_code != 200:
            await response.aread()
            return Stream(response.status_code, response.headers, [], response.json())
        collected = [frame async for frame in frames(response)]
        return Stream(response.status_code, response.headers, collected)
