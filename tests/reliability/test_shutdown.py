"""SIGTERM: stop accepting, let short streams finish, end long ones with server_shutdown."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.openai_standin import OpenAIStandIn, Reply
from tests.e2e.bodies import turn
from tests.support.server_process import ServerProcess
from tests.support.sse import Frame, frames


@pytest.fixture
def server_process(upstream: OpenAIStandIn, tmp_path: Path) -> Iterator[ServerProcess]:
    server = ServerProcess(upstream, tmp_path)
    yield server
    server.stop()


async def _collect(response: httpx.Response, started: asyncio.Event) -> list[Frame]:
    got: list[Frame] = []
    async for frame in frames(response):
        got.append(frame)
        started.set()
    return got


async def test_sigterm_drains_short_streams_and_ends_long_ones(
    server_process: ServerProcess, upstream: OpenAIStandIn, tmp_path: Path
) -> None:
    """In-flight streams get the grace period; the rest end with server_shutdown; then exit."""
    upstream.enqueue(Reply(token_count=30, delay=0.05), Reply(token_count=400, delay=0.05))
    async with httpx.AsyncClient(base_url=server_process.url, timeout=30) as client:
        short_started, long_started = asyncio.Event(), asyncio.Event()
        # Opened one after the other: the stand-in hands out its scripted replies in order.
        async with client.stream("POST", "/stream", json=turn("short", thread="s")) as short:
            short_task = asyncio.create_task(_collect(short, short_started))
            await asyncio.wait_for(short_started.wait(), 10)
            async with client.stream("POST", "/stream", json=turn("long", thread="l")) as long:
                long_task = asyncio.create_task(_collect(long, long_started))
                await asyncio.wait_for(long_started.wait(), 10)
                assert not upstream.seen[0].finished  # the short reply is still in flight
                server_process.proc.send_signal(signal.SIGTERM)
                await asyncio.sleep(0.3)
                with pytest.raises(httpx.ConnectError):
                    await client.get("/health", headers={"connection": "close"})
                short_frames, long_frames = await asyncio.wait_for(
                    asyncio.gather(short_task, long_task), 20
                )

    assert short_frames[-1].event == "final"
    assert short_frames[-1].data["metadata"]["finishReason"] == "stop"
    assert long_frames[-1].event == "error"
    assert long_frames[-1].data["code"] == "server_shutdown"
    streamed = "".join(f.data["content"] for f in long_frames if f.event == "stream_event")
    assert len(streamed) > 0
    # uvicorn re-raises the SIGTERM it caught once its shutdown has finished.
    assert server_process.proc.wait(20) in (0, -signal.SIGTERM)
    log = server_process.log_path.read_text()
    assert "Traceback" not in log
    assert upstream.seen[-1].tokens_sent < 400

    # Nothing half-written: after a restart the long thread holds exactly what was streamed.
    restarted = ServerProcess(upstream, tmp_path)
    try:
        async with httpx.AsyncClient(base_url=restarted.url) as client:
            history = (await client.get("/threads/l/messages", params={"userId": "u-1"})).json()
    finally:
        restarted.stop()
    assert [(m["role"], m["content"]) for m in history["messages"]] == [
        ("user", "long"),
        ("assistant", streamed),
    ]
