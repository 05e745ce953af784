"""Message lists stored once per thread: references per checkpoint, each message once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any, cast

import pytest
import redis.asyncio as aioredis
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, RemoveMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.message import add_messages

from redis_saver import RedisSaver
from redis_saver.messages import DIGEST_SIZE, SEGMENT_SIZE, SEGS_TAG
from tests.redis_saver.checkpoints import config, put

DATA = "{lg:t:t}:data"


def _turn(n: int) -> list[BaseMessage]:
    return [
        HumanMessage(f"question {n} " + "q" * 200, id=f"h{n}"),
        AIMessage(f"answer {n} " + "a" * 200, id=f"a{n}"),
    ]


async def _fields(raw: aioredis.Redis, kind: bytes) -> dict[bytes, bytes]:
    data = cast("dict[bytes, bytes]", await raw.hgetall(DATA))
    return {k: v for k, v in data.items() if k.split(b"\0", 1)[0] == kind}


async def _messages_of(saver: RedisSaver, cfg: RunnableConfig) -> list[BaseMessage]:
    found = await saver.aget_tuple(cfg)
    assert found is not None
    return cast("list[BaseMessage]", found.checkpoint["channel_values"]["messages"])


async def _grow(saver: RedisSaver, turns: int) -> list[RunnableConfig]:
    """A thread of ``turns`` checkpoints, each adding one exchange, as the loop stores it."""
    stored: list[RunnableConfig] = []
    messages: list[BaseMessage] = []
    for n in range(turns):
        messages = cast("list[BaseMessage]", add_messages(messages, _turn(n)))
        parent = stored[-1] if stored else None
        stored.append(await put(saver, "t", changed={"messages": messages}, parent=parent))
    return stored


@pytest.fixture
async def flat(redis_db: str) -> AsyncIterator[RedisSaver]:
    """A saver that keeps only the newest checkpoint."""
    async with RedisSaver.from_url(redis_db, keep_history=False) as s:
        yield s


@pytest.fixture
async def whole(redis_db: str) -> AsyncIterator[RedisSaver]:
    """A saver that writes message lists whole, as the saver did before references."""
    async with RedisSaver.from_url(redis_db, store_messages_once=False) as s:
        yield s


async def test_messages_when_thread_grows_then_each_message_stored_once(
    saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """Ten turns with history hold 20 message fields, and each version is a reference list."""
    await _grow(saver, 10)

    assert len(await _fields(raw, b"m")) == 20
    blobs = sorted((await _fields(raw, b"b")).values(), key=len)
    expected = [len(SEGS_TAG) + 2 + DIGEST_SIZE * 2 * n for n in range(1, 11)]
    assert [len(b) for b in blobs] == expected
    assert all(b.startswith(SEGS_TAG + b"0\0") for b in blobs)


async def test_messages_when_history_kept_then_every_checkpoint_reads_its_own_list(
    saver: RedisSaver,
) -> None:
    """Each checkpoint's references rebuild exactly the list it was stored with."""
    stored = await _grow(saver, 5)

    for n, cfg in enumerate(stored):
        got = await _messages_of(saver, cfg)
        assert [m.id for m in got] == [x for i in range(n + 1) for x in (f"h{i}", f"a{i}")]
        assert got[-1].content == f"answer {n} " + "a" * 200
    listed = [t async for t in saver.alist(config("t"))]
    assert [len(t.checkpoint["channel_values"]["messages"]) for t in listed] == [10, 8, 6, 4, 2]


async def test_messages_when_later_turn_then_only_its_messages_sent(
    redis_db: str, raw: aioredis.Redis
) -> None:
    """A turn after a read of 50 exchanges sends its two messages and the references only."""
    sent: list[int] = []

    class CountingConnection(aioredis.Connection):
        async def send_packed_command(
            self, command: bytes | str | Iterable[bytes], check_health: bool = True
        ) -> None:
            sent.append(len(command) if isinstance(command, bytes) else 0)
            await super().send_packed_command(command, check_health)

    client = aioredis.Redis.from_url(redis_db, connection_class=CountingConnection)
    saver = RedisSaver(client)
    await saver.setup()
    try:
        stored = await _grow(saver, 50)
        history = await _messages_of(saver, stored[-1])
        sent.clear()

        messages = add_messages(history, _turn(50))
        await put(saver, "t", changed={"messages": messages})
    finally:
        await saver.aclose()
        await client.aclose()

    whole = sum(len(m.model_dump_json()) for m in cast("list[BaseMessage]", messages))
    assert len(sent) == 1  # one round trip
    assert sent[0] < 2 * 600 + 102 * DIGEST_SIZE + 1500 < whole / 5


async def test_messages_when_edited_or_removed_then_old_checkpoints_still_read_them(
    saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """An edit and a RemoveMessage leave the first checkpoint's versions readable."""
    first = await put(saver, "t", changed={"messages": _turn(0)})
    edited = add_messages(_turn(0), [AIMessage("changed", id="a0")])
    second = await put(saver, "t", changed={"messages": edited}, parent=first)
    removed = add_messages(edited, [RemoveMessage(id="h0")])
    third = await put(saver, "t", changed={"messages": removed}, parent=second)

    assert [m.content for m in await _messages_of(saver, first)] == [m.content for m in _turn(0)]
    assert [m.content for m in await _messages_of(saver, second)][1] == "changed"
    assert [m.id for m in await _messages_of(saver, third)] == ["a0"]
    assert len(await _fields(raw, b"m")) == 3  # h0, a0 and the edited a0


async def test_messages_when_history_off_then_replaced_messages_deleted(
    flat: RedisSaver, raw: aioredis.Redis
) -> None:
    """Without history, a message no checkpoint names any more leaves Redis."""
    first = await put(flat, "t", changed={"messages": _turn(0)})
    edited = add_messages(_turn(0), [AIMessage("changed", id="a0")])
    second = await put(flat, "t", changed={"messages": edited}, parent=first)
    removed = add_messages(edited, [RemoveMessage(id="h0")])
    await put(flat, "t", changed={"messages": removed}, parent=second)

    assert len(await _fields(raw, b"m")) == 1
    assert len(await _fields(raw, b"b")) == 1
    assert [m.content for m in await _messages_of(flat, config("t"))] == ["changed"]


async def test_messages_when_thread_deleted_then_no_key_left(
    saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """Deleting a thread removes its messages with it: no key of the thread remains."""
    await _grow(saver, 3)
    assert len(await _fields(raw, b"m")) == 6

    await saver.adelete_thread("t")

    assert [k async for k in raw.scan_iter("*lg:t:t*")] == []


async def test_messages_when_ttl_then_messages_live_in_the_threads_keys(
    redis_db: str, raw: aioredis.Redis
) -> None:
    """Messages add no key: the thread's two keys (which the TTL covers) hold them all."""
    async with RedisSaver.from_url(redis_db, ttl=60) as saver:
        await _grow(saver, 3)

    keys = sorted([k async for k in raw.scan_iter("*")])
    assert keys == [b"{lg:t:t}:data", b"{lg:t:t}:index"]
    assert [0 < await raw.ttl(k) <= 60 for k in keys] == [True, True]


async def test_messages_when_old_format_thread_then_read_and_next_turn_stored_once(
    whole: RedisSaver, saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """A thread stored whole (today's format) reads back, and its next turn uses references."""
    first = await put(whole, "t", changed={"messages": _turn(0)})
    (old_blob,) = (await _fields(raw, b"b")).values()
    assert not old_blob.startswith(SEGS_TAG) and not await _fields(raw, b"m")

    history = await _messages_of(saver, first)
    assert [m.id for m in history] == ["h0", "a0"]
    second = await put(
        saver, "t", changed={"messages": add_messages(history, _turn(1))}, parent=first
    )

    assert [m.id for m in await _messages_of(saver, second)] == ["h0", "a0", "h1", "a1"]
    assert [m.id for m in await _messages_of(saver, first)] == ["h0", "a0"]
    assert len(await _fields(raw, b"m")) == 4
    assert sum(b.startswith(SEGS_TAG) for b in (await _fields(raw, b"b")).values()) == 1


async def test_messages_when_known_message_vanished_then_put_resends_it(
    counted: Any, raw: aioredis.Redis
) -> None:
    """A message deleted behind the saver's back is sent again; the reference never dangles."""
    saver, trips = counted
    stored = await _grow(saver, 2)
    history = await _messages_of(saver, stored[-1])
    (victim,) = [f for f, v in (await _fields(raw, b"m")).items() if b"question 0" in v]
    await raw.hdel(DATA, victim)
    trips.count = 0

    latest = await put(saver, "t", changed={"messages": add_messages(history, _turn(2))})

    assert trips.count == 2  # the refused write, then the whole list
    assert next(m.id for m in await _messages_of(saver, latest)) == "h0"
    assert victim in await _fields(raw, b"m")


async def test_messages_when_not_all_have_ids_then_list_stored_whole(
    saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """A list with a message without an id, or of other things, is stored as one blob."""
    await put(saver, "t", changed={"a": [HumanMessage("no id")], "b": ["x", "y"]})

    assert not await _fields(raw, b"m")
    assert not any(v.startswith(SEGS_TAG) for v in (await _fields(raw, b"b")).values())
    found = await saver.aget_tuple(config("t"))
    assert found is not None and found.checkpoint["channel_values"]["b"] == ["x", "y"]


async def test_messages_when_copied_then_target_reads_them(saver: RedisSaver) -> None:
    """copy_thread carries the message fields along with the references."""
    await _grow(saver, 2)

    await saver.acopy_thread("t", "u")

    got = await _messages_of(saver, config("u"))
    assert [m.id for m in got] == ["h0", "a0", "h1", "a1"]


async def test_messages_when_runs_deleted_then_their_only_messages_go(
    saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """delete_for_runs drops the messages that only the deleted checkpoints named."""
    first = await put(saver, "t", changed={"messages": _turn(0)}, run_id="r1")
    await put(saver, "u", changed={"messages": _turn(0)}, run_id="r2")
    await put(saver, "t", changed={"messages": _turn(1)}, parent=first, run_id="r2")

    await saver.adelete_for_runs(["r2"])

    assert len(await _fields(raw, b"m")) == 2
    assert [m.id for m in await _messages_of(saver, config("t"))] == ["h0", "a0"]


async def test_messages_when_list_outgrows_a_segment_then_late_turn_sends_tail_only(
    counted: Any, raw: aioredis.Redis
) -> None:
    """Past a segment's length, a version names whole segments: a late turn's references stay
    short, each segment is stored once, and every checkpoint still reads its own list."""
    saver, _ = counted
    stored = await _grow(saver, SEGMENT_SIZE + 6)  # 2 * 70 = 140 messages: 2 segments, 12 tail
    blobs = (await _fields(raw, b"b")).values()

    assert len(await _fields(raw, b"s")) == 2
    assert len(await _fields(raw, b"m")) == 2 * (SEGMENT_SIZE + 6)
    newest = max((b for b in blobs if b.startswith(SEGS_TAG + b"2\0")), key=len)
    assert len(newest) == len(SEGS_TAG) + 2 + DIGEST_SIZE * (2 + 12)
    assert max(len(b) for b in blobs) <= len(SEGS_TAG) + 3 + DIGEST_SIZE * (1 + SEGMENT_SIZE)
    for n in (0, SEGMENT_SIZE // 2 - 1, SEGMENT_SIZE // 2, SEGMENT_SIZE + 5):
        got = await _messages_of(saver, stored[n])
        assert [m.id for m in got] == [x for i in range(n + 1) for x in (f"h{i}", f"a{i}")]


async def test_messages_when_flat_reference_list_then_read(
    saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """A thread whose lists are flat reference lists (the format before segments) reads back,
    and its next turn is stored with segments."""
    stored = await _grow(saver, SEGMENT_SIZE)  # the newest version: exactly two segments
    segments = await _fields(raw, b"s")
    for field, blob in (await _fields(raw, b"b")).items():
        count, _, rest = blob[len(SEGS_TAG) :].partition(b"\0")
        cut = int(count) * DIGEST_SIZE
        names = [rest[at : at + DIGEST_SIZE] for at in range(0, cut, DIGEST_SIZE)]
        flat = b"".join(segments[b"s\0\0" + name] for name in names) + rest[cut:]
        await raw.hset(DATA, field, b"msgrefs\0" + flat)
    await raw.hdel(DATA, *segments)
    fresh = RedisSaver(saver.client)  # knows nothing stored

    history = await _messages_of(fresh, stored[-1])
    assert len(history) == 2 * SEGMENT_SIZE
    later = await put(fresh, "t", changed={"messages": add_messages(history, _turn(99))})

    assert [m.id for m in await _messages_of(fresh, later)][-2:] == ["h99", "a99"]
    assert len(await _fields(raw, b"s")) == 2


async def test_messages_when_history_off_and_head_removed_then_old_segments_deleted(
    flat: RedisSaver, raw: aioredis.Redis
) -> None:
    """Removing the first message shifts every segment: without history, the old segments
    and the removed message leave Redis, and what the newest list names stays."""
    stored = await _grow(flat, SEGMENT_SIZE)
    history = await _messages_of(flat, stored[-1])

    removed = add_messages(history, [RemoveMessage(id="h0")])
    await put(flat, "t", changed={"messages": removed}, parent=stored[-1])

    left = 2 * SEGMENT_SIZE - 1
    assert len(await _fields(raw, b"m")) == left
    assert len(await _fields(raw, b"s")) == left // SEGMENT_SIZE
    got = await _messages_of(flat, config("t"))
    assert [m.id for m in got] == [m.id for m in history[1:]]


async def test_messages_when_known_segment_vanished_then_put_resends_it(
    counted: Any, raw: aioredis.Redis
) -> None:
    """A segment deleted behind the saver's back is sent again with the next turn."""
    saver, trips = counted
    stored = await _grow(saver, SEGMENT_SIZE // 2)
    history = await _messages_of(saver, stored[-1])
    (victim,) = await _fields(raw, b"s")
    await raw.hdel(DATA, victim)
    trips.count = 0

    latest = await put(saver, "t", changed={"messages": add_messages(history, _turn(99))})

    assert trips.count == 2  # the refused write, then everything
    assert victim in await _fields(raw, b"s")
    assert len(await _messages_of(saver, latest)) == SEGMENT_SIZE + 2


async def test_messages_when_runs_with_segments_deleted_then_shared_segments_stay(
    saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """delete_for_runs keeps a segment that a remaining checkpoint names, and drops the one
    only the deleted checkpoint named, with the messages only it held."""
    history: list[BaseMessage] = []
    for n in range(SEGMENT_SIZE // 2):
        history = cast("list[BaseMessage]", add_messages(history, _turn(n)))
    first = await put(saver, "t", changed={"messages": history}, run_id="r1")
    more = cast("list[BaseMessage]", add_messages(history, _turn(98)))
    for n in range(SEGMENT_SIZE // 2, SEGMENT_SIZE):
        more = cast("list[BaseMessage]", add_messages(more, _turn(n)))
    await put(saver, "t", changed={"messages": more}, parent=first, run_id="r2")
    assert len(await _fields(raw, b"s")) == 2

    await saver.adelete_for_runs(["r2"])

    assert len(await _fields(raw, b"s")) == 1
    assert len(await _fields(raw, b"m")) == SEGMENT_SIZE
    assert len(await _messages_of(saver, config("t"))) == SEGMENT_SIZE
