"""What the unit tests below the HTTP layer share: specs of a test graph and a stand-in for the
executor, so that a run's machinery is tested without a model, a graph or a socket."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from app.errors import AppError
from app.runs.events import Reply, RunEvent
from app.runs.execute import RunCancelled
from app.runs.spec import RunSpec
from tests.support.registries import chat_registry


def spec(thread_id: str = "t1", *, user_id: str = "alice", **fields: Any) -> RunSpec:
    """A run of streaming-chat 1.1.0 on ``thread_id``."""
    version = chat_registry().resolve("streaming-chat::1.1.0")
    values: dict[str, Any] = {
        "request_id": uuid.uuid4().hex,
        "thread_id": thread_id,
        "user_id": user_id,
        "graph": version,
        "settings": version.settings(),
        "input": {"messages": []},
        "received": time.perf_counter(),
    }
    values.update(fields)
    return RunSpec(**values)


def reply(text: str = "", **fields: Any) -> Reply:
    values: dict[str, Any] = {
        "text": text,
        "model": "test-model",
        "provider": "test",
        "usage": None,
        "finish_reason": "stop",
        "ttft_ms": 1.0,
        "total_ms": 2.0,
    }
    values.update(fields)
    return Reply(**values)


class ScriptedExecutor:
    """Emits ``events`` one per loop turn (waiting on ``gate`` first, if set), then returns a
    reply of their text, or raises ``error``; a cancel ends it with a cancelled reply."""

    def __init__(
        self,
        events: Sequence[RunEvent] = ("Hel", "lo"),
        *,
        gate: asyncio.Event | None = None,
        error: AppError | None = None,
    ) -> None:
        self.events = list(events)
        self.gate = gate
        self.error = error
        self.started: list[str] = []

    async def run(
        self,
        spec: RunSpec,
        emit: Callable[[RunEvent], None],
        *,
        rollback: Callable[[], bool] = lambda: False,
    ) -> Reply:
        self.started.append(spec.request_id)
        text: list[str] = []
        try:
            if self.gate is not None:
                await self.gate.wait()
            for event in self.events:
                emit(event)
                if isinstance(event, str):
                    text.append(event)
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise RunCancelled(reply("".join(text), finish_reason="cancelled")) from None
        if self.error is not None:
            raise self.error
        return reply("".join(text), text_deltas=len(text))
