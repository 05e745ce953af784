"""aget_metadata: the newest checkpoint's metadata in one round trip, without its values."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from redis_saver import RedisSaver
from redis_saver.lua import READ_RECORD
from tests.redis_saver.checkpoints import config, put
from tests.redis_saver.conftest import RoundTrips


async def test_aget_metadata_when_thread_has_checkpoints_then_newest_metadata(
    counted: tuple[RedisSaver, RoundTrips],
) -> None:
    """The newest checkpoint's metadata comes back in one send."""
    saver, trips = counted
    first = await put(saver, "t", changed={"a": 1}, user_id="u1")
    await put(saver, "t", changed={"a": 2}, parent=first, user_id="u2")
    trips.count = 0

    metadata = await saver.aget_metadata(config("t"))

    assert trips.count == 1
    assert metadata is not None and metadata["user_id"] == "u2"  # type: ignore[typeddict-item]


async def test_aget_metadata_when_no_thread_then_none(saver: RedisSaver) -> None:
    """A thread without checkpoints has no metadata."""
    assert await saver.aget_metadata(config("nobody")) is None


async def test_aget_metadata_when_long_history_then_reply_stays_small(
    saver: RedisSaver,
) -> None:
    """The reply holds the record only, not the channel values (here 200 messages)."""
    messages = [HumanMessage("x" * 500, id=str(n)) for n in range(200)]
    await put(saver, "t", changed={"messages": messages}, user_id="u1")
    record = await saver._redis.eval(READ_RECORD, saver._keys("t"), [0, ""])
    whole = await saver.aget_tuple(config("t"))

    assert isinstance(record, bytes) and len(record) < 2000
    assert whole is not None and await saver.aget_metadata(config("t")) == whole.metadata
