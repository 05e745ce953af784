"""aget_head: the newest checkpoint without its values, in one round trip."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from redis_saver import RedisSaver
from redis_saver.lua import READ_HEAD
from tests.redis_saver.checkpoints import config, put
from tests.redis_saver.conftest import RoundTrips


async def test_aget_head_when_thread_has_checkpoints_then_newest_metadata(
    counted: tuple[RedisSaver, RoundTrips],
) -> None:
    """The newest checkpoint's metadata comes back in one send."""
    saver, trips = counted
    first = await put(saver, "t", changed={"a": 1}, user_id="u1")
    await put(saver, "t", changed={"a": 2}, parent=first, user_id="u2")
    trips.count = 0

    head = await saver.aget_head(config("t"), writes=False)

    assert trips.count == 1
    assert head is not None and head.metadata["user_id"] == "u2"  # type: ignore[typeddict-item]


async def test_aget_head_when_no_thread_then_none(saver: RedisSaver) -> None:
    """A thread without checkpoints has no head."""
    assert await saver.aget_head(config("nobody")) is None


async def test_aget_head_when_checkpoint_has_writes_then_same_as_aget_tuple_but_values(
    counted: tuple[RedisSaver, RoundTrips],
) -> None:
    """Config, metadata, parent and pending writes (in aget_tuple's order) in one send."""
    saver, trips = counted
    first = await put(saver, "t", changed={"a": 1}, user_id="u1")
    second = await put(saver, "t", changed={"a": 2}, parent=first, user_id="u1")
    await saver.aput_writes(second, [("__interrupt__", ["ask"]), ("b", 1)], "task-2")
    await saver.aput_writes(second, [("c", 2)], "task-1")
    whole = await saver.aget_tuple(config("t"))
    trips.count = 0

    head = await saver.aget_head(config("t"))

    assert trips.count == 1
    assert whole is not None and head is not None
    assert (head.config, head.metadata, head.parent_config) == (
        whole.config,
        whole.metadata,
        whole.parent_config,
    )
    assert head.pending_writes == whole.pending_writes
    assert len(head.pending_writes) == 3


async def test_aget_head_when_namespace_then_its_newest(saver: RedisSaver) -> None:
    """A subgraph's namespace has its own head."""
    await put(saver, "t", changed={"a": 1}, user_id="root")
    await put(saver, "t", changed={"a": 1}, ns="sub:1", user_id="inner")

    root = await saver.aget_head(config("t"))
    inner = await saver.aget_head(config("t", ns="sub:1"))

    assert root is not None and root.metadata["user_id"] == "root"  # type: ignore[typeddict-item]
    assert inner is not None and inner.config["configurable"]["checkpoint_ns"] == "sub:1"


async def test_aget_head_when_long_history_then_reply_stays_small(saver: RedisSaver) -> None:
    """The reply holds the record and writes only, not the channel values (here 200
    messages of 500 characters)."""
    messages = [HumanMessage("x" * 500, id=str(n)) for n in range(200)]
    stored = await put(saver, "t", changed={"messages": messages}, user_id="u1")
    await saver.aput_writes(stored, [("__interrupt__", ["ask"])], "task")

    reply = await saver._redis.eval(READ_HEAD, saver._keys("t"), [0, ""])
    whole = await saver.aget_tuple(config("t"))

    assert sum(len(part) for part in reply[:2]) + sum(map(len, reply[3])) < 2000
    head = await saver.aget_head(config("t"), writes=False)
    assert whole is not None and head is not None and head.metadata == whole.metadata
