"""Thread memory: later turns send the whole conversation; versions and failures keep it sound."""

from __future__ import annotations

import httpx

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.support.sse import stream


def _conversation(upstream: OpenAIStandIn) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in upstream.seen[-1].messages]


async def test_second_turn_sends_the_first_exchange(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """The upstream receives turn 1's question and answer with turn 2's question."""
    upstream.enqueue(Reply(tokens=["Hello", " Ada"]), Reply(tokens=["Bye"]))
    await stream(client, turn("I am Ada"))
    await stream(client, turn("Who am I?"))

    assert _conversation(upstream) == [
        ("user", "I am Ada"),
        ("assistant", "Hello Ada"),
        ("user", "Who am I?"),
    ]


async def test_threads_do_not_share_memory(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """Another thread id starts from an empty conversation."""
    await stream(client, turn("first", thread="a"))
    await stream(client, turn("second", thread="b"))
    assert _conversation(upstream) == [("user", "second")]


async def test_system_prompt_applies_per_call_and_is_not_stored(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """systemPrompt leads each call's messages but never enters the thread."""
    settings = {"graphType": "streaming-chat::1.0.0", "systemPrompt": "Be brief"}
    await stream(client, turn("one", graphSettings=settings))
    await stream(client, turn("two", graphSettings=settings))

    roles = [role for role, _ in _conversation(upstream)]
    assert roles == ["system", "user", "assistant", "user"]
    await stream(client, turn("three", graphSettings={"graphType": "streaming-chat::1.0.0"}))
    assert [role for role, _ in _conversation(upstream)].count("system") == 0


async def test_versions_differ_visibly_and_share_a_thread(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """1.1.0's style reaches the model as a persona; 1.0.0 continues the same thread."""
    pirate = {"graphType": "streaming-chat::1.1.0", "style": "pirate"}
    first = await stream(client, turn("Ahoy", graphSettings=pirate))
    assert first.final["metadata"]["graphType"] == "streaming-chat::1.1.0"
    assert "pirate" in upstream.seen[-1].messages[0]["content"]

    second = await stream(client, turn("Plain now", graphSettings={"graphType": V1}))
    assert second.final["metadata"]["graphType"] == V1
    assert [role for role, _ in _conversation(upstream)] == ["user", "assistant", "user"]


V1 = "streaming-chat::1.0.0"


async def test_bare_graph_type_and_ranges_resolve_to_the_newest(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """A bare name gives the default version; ^1.0.0 gives the newest 1.x."""
    bare = await stream(client, turn("hi", graphType="streaming-chat"))
    caret = await stream(client, turn("hi", graphSettings={"graphType": "streaming-chat::^1.0.0"}))
    tilde = await stream(client, turn("hi", graphSettings={"graphType": "streaming-chat::~1.0.0"}))
    assert bare.final["metadata"]["graphType"] == "streaming-chat::1.1.0"
    assert caret.final["metadata"]["graphType"] == "streaming-chat::1.1.0"
    assert tilde.final["metadata"]["graphType"] == V1


async def test_failed_turn_keeps_the_users_message_and_the_next_turn_works(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """After a stream cut mid-way, the thread holds the user's message and carries on."""
    upstream.enqueue(Reply(drop_after=2), Reply(tokens=["Fine", " now"]))
    failed = await stream(client, turn("first try"))
    assert failed.chunks == ["Once ", "upon "]
    assert failed.error["code"] == "upstream_error"
    assert "cut off" in failed.error["message"]

    ok = await stream(client, turn("second try"))
    assert ok.final["text"] == "Fine now"
    # Documented: a failed turn leaves the user's message alone in the thread, no partial reply.
    assert _conversation(upstream) == [("user", "first try"), ("user", "second try")]


async def test_retried_request_id_does_not_duplicate_the_message(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """Retrying a failed request with the same requestId replaces its message, not adds one."""
    upstream.enqueue(Reply(status=500))
    failed = await stream(client, turn("hello", requestId="r-1"))
    assert failed.error["code"] == "upstream_error"

    await stream(client, turn("hello", requestId="r-1"))
    assert _conversation(upstream) == [("user", "hello")]


async def test_memory_survives_a_server_restart_on_sqlite(
    make_server: ServerFactory, upstream: OpenAIStandIn, tmp_path: object
) -> None:
    """The embedded SQLite store keeps threads across a restart."""
    from pathlib import Path

    path = Path(str(tmp_path)) / "kept.sqlite"
    first = make_server(sqlite_path=path)
    async with httpx.AsyncClient(base_url=first.url) as c:
        await c.post("/generate", json=turn("remember me"))
    first.stop()
    second = make_server(sqlite_path=path)
    async with httpx.AsyncClient(base_url=second.url) as c:
        await c.post("/generate", json=turn("still there?"))
    assert upstream.seen[-1].messages[0]["content"] == "remember me"
