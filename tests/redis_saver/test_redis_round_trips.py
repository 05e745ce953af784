"""Each hot-path call of RedisSaver costs exactly one network round trip."""

from __future__ import annotations

from langgraph.checkpoint.base import empty_checkpoint

from redis_saver import RedisSaver
from tests.redis_saver.checkpoints import config, put
from tests.redis_saver.conftest import RoundTrips


async def test_aput_when_channels_change_then_one_round_trip(
    counted: tuple[RedisSaver, RoundTrips],
) -> None:
    """Storing a checkpoint with three channel blobs is a single send."""
    saver, trips = counted
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"a": 1, "b": [2], "c": {"x": 3}}
    checkpoint["channel_versions"] = {"a": "1", "b": "1", "c": "1"}

    await saver.aput(config("t"), checkpoint, {"source": "input", "step": -1}, {"a": "1", "b": "1"})

    assert trips.count == 1


async def test_aput_when_metadata_has_run_id_then_still_one_round_trip(
    counted: tuple[RedisSaver, RoundTrips],
) -> None:
    """Linking the run for delete_for_runs rides in the same pipeline as the script."""
    saver, trips = counted

    await saver.aput(config("t"), empty_checkpoint(), {"run_id": "run-1"}, {})

    assert trips.count == 1


async def test_aput_writes_when_several_writes_then_one_round_trip(
    counted: tuple[RedisSaver, RoundTrips],
) -> None:
    """A task's writes, regular and special, are stored by one send."""
    saver, trips = counted
    stored = await put(saver, "t", changed={"a": 1})
    trips.count = 0

    await saver.aput_writes(stored, [("a", 2), ("b", 3), ("__error__", "boom")], "task-1")

    assert trips.count == 1


async def test_aget_tuple_when_latest_with_blobs_and_writes_then_one_round_trip(
    counted: tuple[RedisSaver, RoundTrips],
) -> None:
    """Checkpoint, its channel blobs from older versions and its writes come back in one send."""
    saver, trips = counted
    first = await put(saver, "t", changed={"old": "kept", "msg": 1})
    second = await put(saver, "t", changed={"msg": 2}, parent=first)
    await saver.aput_writes(second, [("msg", 3)], "task-1")
    trips.count = 0

    found = await saver.aget_tuple(config("t"))

    assert trips.count == 1
    assert found is not None
    assert found.checkpoint["channel_values"] == {"old": "kept", "msg": 2}
    assert found.pending_writes == [("task-1", "msg", 3)]


async def test_aget_tuple_when_id_given_then_one_round_trip(
    counted: tuple[RedisSaver, RoundTrips],
) -> None:
    """Reading a named checkpoint is one send too."""
    saver, trips = counted
    first = await put(saver, "t", changed={"a": 1})
    await put(saver, "t", changed={"a": 2}, parent=first)
    trips.count = 0

    found = await saver.aget_tuple(first)

    assert trips.count == 1
    assert found is not None and found.checkpoint["channel_values"] == {"a": 1}


async def test_alist_when_thirty_checkpoints_then_round_trips_per_page_not_per_checkpoint(
    counted: tuple[RedisSaver, RoundTrips],
) -> None:
    """Listing 30 checkpoints with pages of 10 takes 4 sends (3 full pages and an empty one)."""
    saver, trips = counted
    saver.page_size = 10
    parent = None
    for step in range(30):
        parent = await put(saver, "t", changed={"step": step}, parent=parent, step=step)
    trips.count = 0

    steps = [t.metadata["step"] async for t in saver.alist(config("t"))]

    assert steps == list(range(29, -1, -1))
    assert trips.count == 4


async def test_aget_tuple_when_script_cache_flushed_then_falls_back_to_eval_and_recovers(
    counted: tuple[RedisSaver, RoundTrips],
) -> None:
    """After SCRIPT FLUSH a call costs one extra trip (NOSCRIPT, EVAL), the next one again one."""
    saver, trips = counted
    stored = await put(saver, "t", changed={"a": 1})
    await saver.client.script_flush()
    trips.count = 0

    assert await saver.aget_tuple(stored) is not None
    assert trips.count == 2
    trips.count = 0
    assert await saver.aget_tuple(stored) is not None
    assert trips.count == 1
