"""What the LangGraph API tests share: inputs, and reading what the client streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import aclosing
from typing import Any

import httpx
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError
from langgraph_sdk.schema import StreamPart

# Every call is bounded: a hung server fails the test instead of stalling the suite.
TIMEOUT = httpx.Timeout(20.0, connect=5.0)

CALCULATION = "What is 17*23?"
ANSWER_391 = "17*23 = 391."


def said(text: str) -> dict[str, Any]:
    """Graph input: one user message."""
    return {"messages": [{"role": "user", "content": text}]}


async def collect(parts: AsyncIterator[StreamPart], limit: int | None = None) -> list[StreamPart]:
    """The parts of a stream, to its end or (``limit``) until that many were read; the
    connection is closed either way."""
    seen: list[StreamPart] = []
    async with aclosing(parts) as stream:
        async for part in stream:
            seen.append(part)
            if limit is not None and len(seen) == limit:
                break
    return seen


def events(parts: Iterable[StreamPart]) -> list[str]:
    return [p.event for p in parts]


def of(parts: Iterable[StreamPart], event: str) -> list[Any]:
    """The data of the parts named ``event``."""
    return [p.data for p in parts if p.event == event]


def tuples_text(parts: Iterable[StreamPart], node: str | None = None) -> str:
    """The text of the AI chunks of a messages-tuple stream (of one node, if given)."""
    return "".join(
        message["content"]
        for message, metadata in of(parts, "messages")
        if message["type"] == "AIMessageChunk"
        and (node is None or metadata.get("langgraph_node") == node)
    )


def kinds(messages: Sequence[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, text) of each message."""
    return [(m["type"], m["content"] if isinstance(m["content"], str) else "") for m in messages]


def ids(parts: Iterable[StreamPart]) -> list[int]:
    """The frame ids of the parts that carry one, as integers (they must be)."""
    return [int(p.id) for p in parts if p.id is not None]


def status_of(error: BaseException) -> int:
    assert isinstance(error, httpx.HTTPStatusError), repr(error)
    return error.response.status_code


def message_of(error: BaseException) -> str:
    """The message of the server's error envelope."""
    assert isinstance(error, httpx.HTTPStatusError), repr(error)
    body = error.response.json()
    detail = body.get("error") or body.get("detail") or body
    return str(detail.get("message") if isinstance(detail, dict) else detail)


async def leftover(client: LangGraphClient, thread_id: str, run_id: str) -> str:
    """'' if the run is 404 (as a rolled-back run is in langgraph-api), else what is left."""
    try:
        run = await client.runs.get(thread_id, run_id)
    except NotFoundError:
        return ""
    return f"run {run_id} is still there, {run['status']}"
