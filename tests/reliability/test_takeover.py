"""Runs that outlive their replica: the replica running a run is SIGKILLed (no clean-up, its
claims left to lapse after RUN_CLAIM_TTL_SECONDS) and a live replica takes the run over, going
on from the thread's last checkpoint in the same log. What the user sent is in the thread
before the model is called, the thread holds the turn once, and followers on any replica get
a reset and then the turn again, ending with the right final."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from bench.openai_standin import OpenAIStandIn, Reply, ToolCall
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.reliability.graphs import TOOL_LOG, TOOL_SECONDS, slow_tool_registry
from tests.support.server_process import ServerProcess
from tests.support.sse import Frame, frames

TTL = "2"
SLOW = Reply(token_count=400, delay=0.05)  # 20 s: the kill always lands mid-reply


def chunks_after_last_reset(got: list[Frame]) -> str:
    """What a client that starts the reply again on each reset shows."""
    text: list[str] = []
    for frame in got:
        if frame.event != "stream_event":
            continue
        if frame.data["type"] == "reset":
            text = []
        elif frame.data["type"] == "chunk":
            text.append(frame.data["content"])
    return "".join(text)


async def messages_of(client: httpx.AsyncClient, url: str, thread: str) -> list[dict[str, Any]]:
    response = await client.get(f"{url}/threads/{thread}/messages", params={"userId": "u-1"})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["messages"]
    return found


async def until_requests(upstream: OpenAIStandIn, count: int, limit: float = 15.0) -> None:
    """Until the stand-in has been asked ``count`` times (the model is being called)."""
    for _ in range(int(limit / 0.05)):
        if len(upstream.seen) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the model was asked {len(upstream.seen)} times, not {count}")


async def test_a_chat_stream_followed_from_another_replica_goes_on_after_a_reset(
    make_server: ServerFactory, upstream: OpenAIStandIn, shared_redis: str, tmp_path: Path
) -> None:
    """Replica A runs the turn, a client follows it through B, A is SIGKILLed mid-reply: the
    follower gets a reset and then the whole turn again from B, ending with final; the chunks
    after the reset add up to final.text, frame ids only grow, and the thread holds one user
    message and one answer."""
    upstream.enqueue(SLOW, Reply(tokens=["Taken ", "over."]))
    owner = ServerProcess(upstream, tmp_path, REDIS_URL=shared_redis, RUN_CLAIM_TTL_SECONDS=TTL)
    other = make_server(redis_url=shared_redis, run_claim_ttl_seconds=float(TTL))
    got: list[Frame] = []
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            started = await client.post(f"{owner.url}/start", json=turn("tell", thread="k1"))
            assert started.status_code == 202, started.text
            async with client.stream("GET", other.url + started.json()["streamUrl"]) as response:
                assert response.status_code == 200
                async for frame in frames(response):
                    got.append(frame)
                    if len(got) == 3:
                        owner.proc.kill()
            history = await messages_of(client, other.url, "k1")
    finally:
        owner.stop()

    kinds = [f.data.get("type") for f in got if f.event == "stream_event"]
    assert kinds[:3] == ["chunk", "chunk", "chunk"] and kinds.count("reset") == 1
    reset = next(f for f in got if f.event == "stream_event" and f.data["type"] == "reset")
    assert reset.data == {"type": "reset", "reason": "replica_lost"}
    final = got[-1]
    assert final.event == "final", final
    assert final.data["text"] == "Taken over."
    assert chunks_after_last_reset(got) == final.data["text"]
    ids = [int(f.id) for f in got if f.id is not None]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", "tell"),
        ("assistant", "Taken over."),
    ]


async def test_an_unfollowed_run_is_finished_by_another_replica_and_the_input_was_saved_first(
    make_server: ServerFactory, upstream: OpenAIStandIn, redis_db: str, tmp_path: Path
) -> None:
    """POST /start on A and nobody follows; A dies while the model streams. Right away the
    thread holds the user's message (it was saved before the model was called); then B takes
    the run over and finishes it: the answer is in the thread once."""
    upstream.enqueue(SLOW, Reply(tokens=["Done."]))
    owner = ServerProcess(upstream, tmp_path, REDIS_URL=redis_db, RUN_CLAIM_TTL_SECONDS=TTL)
    other = make_server(redis_url=redis_db, run_claim_ttl_seconds=float(TTL))
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            started = await client.post(f"{owner.url}/start", json=turn("keep me", thread="k2"))
            assert started.status_code == 202
            await until_requests(upstream, 1)
            owner.proc.kill()
            owner.proc.wait()
            before = await messages_of(client, other.url, "k2")
            after = before
            for _ in range(200):
                after = await messages_of(client, other.url, "k2")
                if len(after) == 2:
                    break
                await asyncio.sleep(0.1)
            rejoined = await client.get(other.url + started.json()["streamUrl"])
    finally:
        owner.stop()

    assert [(m["role"], m["content"]) for m in before] == [("user", "keep me")]
    assert [(m["role"], m["content"]) for m in after] == [
        ("user", "keep me"),
        ("assistant", "Done."),
    ]
    assert len(upstream.seen) == 2
    # Its log holds the whole story for a client that comes late.
    assert "event: final" in rejoined.text and '"type":"reset"' in rejoined.text


async def test_a_langgraph_join_returns_the_taken_over_runs_output(
    make_server: ServerFactory, upstream: OpenAIStandIn, redis_db: str, tmp_path: Path
) -> None:
    """LangGraph's SDK starts a run on A and joins it through B; A dies: the join waits for
    the takeover and returns the thread's values with the one answer."""
    upstream.enqueue(SLOW, Reply(tokens=["Joined."]))
    owner = ServerProcess(upstream, tmp_path, REDIS_URL=redis_db, RUN_CLAIM_TTL_SECONDS=TTL)
    other = make_server(redis_url=redis_db, run_claim_ttl_seconds=float(TTL))
    try:
        on_a, on_b = get_client(url=owner.url), get_client(url=other.url)
        thread = await on_a.threads.create()
        run = await on_a.runs.create(
            thread["thread_id"],
            "streaming-chat",
            input={"messages": [{"role": "user", "content": "join me"}]},
        )
        await until_requests(upstream, 1)
        owner.proc.kill()
        values: Any = await asyncio.wait_for(on_b.runs.join(thread["thread_id"], run["run_id"]), 30)
        record = await on_b.runs.get(thread["thread_id"], run["run_id"])
    finally:
        owner.stop()

    assert [(m["type"], m["content"]) for m in values["messages"]] == [
        ("human", "join me"),
        ("ai", "Joined."),
    ]
    assert record["status"] == "success"


async def test_a_tool_agent_killed_during_its_tool_call_runs_the_step_again_with_its_key(
    make_server: ServerFactory,
    upstream: OpenAIStandIn,
    redis_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dies while the tool runs: the model's step (checkpointed) is not run again, the tool
    step is, once more on B, with the same idempotency key; the thread holds the call, one
    result and one answer, and the follower's final is the answer."""
    tool_log = tmp_path / "tool.log"
    monkeypatch.setenv(TOOL_LOG, str(tool_log))
    monkeypatch.setenv(TOOL_SECONDS, "4")
    call = ToolCall(name="lookup", arguments={"query": "x"}, id="call_k4")
    upstream.enqueue(Reply(tokens=[], tool_calls=[call]), Reply(tokens=["Found ", "it."]))
    registry = "tests.reliability.graphs:slow_tool_registry"
    owner = ServerProcess(
        upstream, tmp_path, registry=registry, REDIS_URL=redis_db, RUN_CLAIM_TTL_SECONDS=TTL
    )
    other = make_server(
        registry=slow_tool_registry(), redis_url=redis_db, run_claim_ttl_seconds=float(TTL)
    )
    body = turn("look", thread="k4", graphType="slow-agent")
    got: list[Frame] = []
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            started = await client.post(f"{owner.url}/start", json=body)
            assert started.status_code == 202, started.text

            async def kill_once_the_tool_runs() -> None:
                while not tool_log.exists():  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
                owner.proc.kill()

            killer = asyncio.create_task(kill_once_the_tool_runs())
            async with client.stream("GET", other.url + started.json()["streamUrl"]) as response:
                got.extend([frame async for frame in frames(response)])
            await asyncio.wait_for(killer, 1)
            history = await messages_of(client, other.url, "k4")
    finally:
        owner.stop()

    runs = tool_log.read_text().splitlines()
    assert len(runs) == 2, (got, history, [s.messages for s in upstream.seen])
    (pid_a, key_a), (pid_b, key_b) = (line.split() for line in runs)
    assert pid_a != pid_b and key_a == key_b == "k4:call_k4"
    assert len(upstream.seen) == 2  # the model's step was not run again
    assert got[-1].event == "final" and got[-1].data["text"] == "Found it."
    assert chunks_after_last_reset(got) == "Found it."
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant"]
    assert history[2]["content"] == "Found 'x'."


async def test_a_run_whose_replicas_keep_dying_ends_with_run_lost_and_a_usable_thread(
    make_server: ServerFactory, upstream: OpenAIStandIn, redis_db: str, tmp_path: Path
) -> None:
    """With RUN_MAX_ATTEMPTS=1 a run is never started again: the follower gets run_lost (a
    coded error, never a hang), the thread keeps the user's message, the next turn works."""
    upstream.enqueue(SLOW)
    owner = ServerProcess(upstream, tmp_path, REDIS_URL=redis_db, RUN_CLAIM_TTL_SECONDS=TTL)
    other = make_server(redis_url=redis_db, run_claim_ttl_seconds=float(TTL), run_max_attempts=1)
    got: list[Frame] = []
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            started = await client.post(f"{owner.url}/start", json=turn("x", thread="k5"))
            async with client.stream("GET", other.url + started.json()["streamUrl"]) as response:
                async for frame in frames(response):
                    got.append(frame)
                    if len(got) == 3:
                        owner.proc.kill()
            kept = await messages_of(client, other.url, "k5")
            upstream.enqueue(Reply(tokens=["Back."]))
            after = await client.post(f"{other.url}/generate", json=turn("again", thread="k5"))
    finally:
        owner.stop()

    assert got[-1].event == "error" and got[-1].data["code"] == "run_lost"
    assert "RUN_MAX_ATTEMPTS" in got[-1].data["message"]
    assert [(m["role"], m["content"]) for m in kept] == [("user", "x")]
    assert after.status_code == 200, after.text
    assert after.json()["text"] == "Back."
