"""What RedisSaver stores and returns: writes, history, listing, serialization, misuse."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
import redis.asyncio as aioredis
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from redis_saver import RedisSaver
from tests.redis_saver.checkpoints import config, put


async def _fields(raw: aioredis.Redis, thread_id: str, kind: bytes) -> list[bytes]:
    """Hash fields of one kind (b"c", b"b" or b"w") that a thread holds."""
    names = cast("list[bytes]", await raw.hkeys(f"{{lg:t:{thread_id}}}:data"))
    return sorted(n for n in names if n.split(b"\0", 1)[0] == kind)


async def test_aput_writes_when_regular_write_repeated_then_first_value_kept(
    saver: RedisSaver,
) -> None:
    """A second write to the same (task, idx) does not overwrite the first."""
    stored = await put(saver, "t")
    await saver.aput_writes(stored, [("ch", "first")], "task")
    await saver.aput_writes(stored, [("ch", "second")], "task")

    found = await saver.aget_tuple(stored)

    assert found is not None and found.pending_writes == [("task", "ch", "first")]


async def test_aput_writes_when_special_write_repeated_then_last_value_kept(
    saver: RedisSaver,
) -> None:
    """ERROR/INTERRUPT writes use their fixed negative idx and overwrite, as in LangGraph."""
    stored = await put(saver, "t")
    await saver.aput_writes(stored, [("__error__", "first"), ("ch", 1)], "task")
    await saver.aput_writes(stored, [("__error__", "second"), ("ch", 2)], "task")

    found = await saver.aget_tuple(stored)

    assert found is not None
    assert sorted(found.pending_writes or []) == [
        ("task", "__error__", "second"),
        ("task", "ch", 1),
    ]


async def test_aput_writes_when_racing_on_same_task_then_one_whole_set_wins(
    saver: RedisSaver,
) -> None:
    """Twenty concurrent retries of a task's writes leave exactly one value per (task, idx)."""
    stored = await put(saver, "t")

    await asyncio.gather(
        *(saver.aput_writes(stored, [("a", n), ("b", n)], "task") for n in range(20))
    )

    found = await saver.aget_tuple(stored)
    assert found is not None and found.pending_writes is not None
    (a, b) = found.pending_writes
    assert a[1:] == ("a", a[2]) and b[1:] == ("b", a[2])  # both from the same call


async def test_aget_tuple_when_writes_from_several_tasks_then_sorted_by_path_task_idx(
    saver: RedisSaver,
) -> None:
    """Pending writes come back in writes_sort_key order (task_path, task_id, idx)."""
    stored = await put(saver, "t")
    await saver.aput_writes(stored, [("a", 1), ("b", 2)], "task-b", "~path, 1")
    await saver.aput_writes(stored, [("c", 3)], "task-a", "~path, 2")
    await saver.aput_writes(stored, [("d", 4)], "task-z", "")

    found = await saver.aget_tuple(stored)

    assert found is not None
    assert [w[1] for w in found.pending_writes or []] == ["d", "a", "b", "c"]


async def test_aget_tuple_when_channel_set_empty_then_absent_from_values(saver: RedisSaver) -> None:
    """A channel in new_versions without a value is stored as empty and not returned."""
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"a": 1}
    checkpoint["channel_versions"] = {"a": "1", "cleared": "1"}
    stored = await saver.aput(config("t"), checkpoint, {}, {"a": "1", "cleared": "1"})

    found = await saver.aget_tuple(stored)

    assert found is not None
    assert found.checkpoint["channel_values"] == {"a": 1}
    assert found.checkpoint["channel_versions"] == {"a": "1", "cleared": "1"}


async def test_aput_when_channel_unchanged_then_its_blob_is_not_rewritten(
    saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """Five checkpoints that change one channel hold one blob of the other channel."""
    parent = await put(saver, "t", changed={"big": "x" * 1000, "n": 0})
    for n in range(1, 5):
        parent = await put(saver, "t", changed={"n": n}, parent=parent)

    blobs = await _fields(raw, "t", b"b")

    assert sum(1 for f in blobs if f.startswith(b"b\0\0big\0")) == 1
    assert sum(1 for f in blobs if f.startswith(b"b\0\0n\0")) == 5


async def test_keep_history_false_when_new_checkpoint_then_older_ones_and_their_data_go(
    redis_db: str, raw: aioredis.Redis
) -> None:
    """Only the newest checkpoint stays, with the blobs it references and no old writes."""
    async with RedisSaver.from_url(redis_db, keep_history=False) as saver:
        first = await put(saver, "t", changed={"kept": "turn-1", "msg": 1})
        await saver.aput_writes(first, [("msg", "w1")], "task")
        second = await put(saver, "t", changed={"msg": 2}, parent=first)
        await saver.aput_writes(second, [("msg", "w2")], "task")
        third = await put(saver, "t", changed={"msg": 3}, parent=second)

        found = await saver.aget_tuple(config("t"))
        listed = [t async for t in saver.alist(config("t"))]
        assert await saver.aget_tuple(first) is None

    assert found is not None
    assert found.config["configurable"]["checkpoint_id"] == third["configurable"]["checkpoint_id"]
    assert found.checkpoint["channel_values"] == {"kept": "turn-1", "msg": 3}
    assert found.pending_writes == []
    assert len(listed) == 1
    assert len(await _fields(raw, "t", b"c")) == 1
    assert len(await _fields(raw, "t", b"b")) == 2  # kept@v1 and msg@v3
    assert await _fields(raw, "t", b"w") == []


async def test_keep_history_false_when_write_targets_replaced_checkpoint_then_dropped(
    redis_db: str, raw: aioredis.Redis
) -> None:
    """A late write to a checkpoint a newer one replaced leaves no orphan behind."""
    async with RedisSaver.from_url(redis_db, keep_history=False) as saver:
        first = await put(saver, "t", changed={"a": 1})
        await put(saver, "t", changed={"a": 2}, parent=first)
        await saver.aput_writes(first, [("a", "late")], "task")

    assert await _fields(raw, "t", b"w") == []


async def test_keep_history_false_when_namespaces_differ_then_each_keeps_its_newest(
    redis_db: str,
) -> None:
    """A subgraph namespace keeps its own newest checkpoint beside the root's."""
    async with RedisSaver.from_url(redis_db, keep_history=False) as saver:
        root = await put(saver, "t", changed={"a": 1})
        await put(saver, "t", changed={"a": 2}, parent=root)
        child = await put(saver, "t", changed={"c": 1}, ns="child:1")
        await put(saver, "t", changed={"c": 2}, parent=child, ns="child:1")

        listed = [t async for t in saver.alist({"configurable": {"thread_id": "t"}})]

    values = {
        t.config["configurable"]["checkpoint_ns"]: t.checkpoint["channel_values"] for t in listed
    }
    assert values == {"": {"a": 2}, "child:1": {"c": 2}}


async def test_adelete_thread_when_called_then_no_key_of_the_thread_remains(
    saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """Checkpoints, blobs, writes and the run link all go; another thread stays."""
    stored = await put(saver, "gone", changed={"a": 1}, run_id="run-1")
    await saver.aput_writes(stored, [("a", 2)], "task")
    await put(saver, "stays", changed={"a": 1})

    await saver.adelete_thread("gone")

    assert [k async for k in raw.scan_iter(match="*gone*")] == []
    assert [k async for k in raw.scan_iter(match="{lg:r:*")] == []
    assert await saver.aget_tuple(config("stays")) is not None


async def test_adelete_for_runs_when_run_spans_threads_then_only_its_checkpoints_go(
    saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """Checkpoints of the run go from both threads; a parent's blobs stay referenced."""
    keep = await put(saver, "t1", changed={"a": "base"}, run_id="keep")
    await put(saver, "t1", changed={"b": 1}, parent=keep, run_id="drop")
    await put(saver, "t2", changed={"a": 1}, run_id="drop")

    await saver.adelete_for_runs(["drop"])

    left = [t async for t in saver.alist(None)]
    assert [t.metadata["run_id"] for t in left] == ["keep"]
    assert left[0].checkpoint["channel_values"] == {"a": "base"}
    # b@v1 belonged only to the deleted checkpoint; a@v1 is still read by the kept one.
    assert [f.split(b"\0")[2] for f in await _fields(raw, "t1", b"b")] == [b"a"]
    assert not await raw.exists("{lg:r:drop}")


async def test_acopy_thread_when_source_deleted_then_copy_is_intact(saver: RedisSaver) -> None:
    """The target holds its own checkpoints, blobs and writes, listed like the source's."""
    first = await put(saver, "src", changed={"a": 1})
    second = await put(saver, "src", changed={"b": 2}, parent=first)
    await saver.aput_writes(second, [("a", 3)], "task")
    before = [t.checkpoint["id"] async for t in saver.alist(config("src"))]

    await saver.acopy_thread("src", "dst")
    await saver.adelete_thread("src")

    found = await saver.aget_tuple(config("dst"))
    assert [t.checkpoint["id"] async for t in saver.alist(config("dst"))] == before
    assert found is not None
    assert found.checkpoint["channel_values"] == {"a": 1, "b": 2}
    assert found.pending_writes == [("task", "a", 3)]
    assert found.parent_config == config("dst", first["configurable"]["checkpoint_id"])


async def test_aprune_keep_latest_when_blobs_shared_then_only_unreferenced_go(
    saver: RedisSaver, raw: aioredis.Redis
) -> None:
    """Pruning keeps the blobs the newest checkpoint still reads, even from turn one."""
    parent = await put(saver, "t", changed={"kept": "turn-1", "n": 0})
    for n in range(1, 4):
        parent = await put(saver, "t", changed={"n": n}, parent=parent)

    await saver.aprune(["t"], strategy="keep_latest")

    found = await saver.aget_tuple(config("t"))
    assert found is not None and found.checkpoint["channel_values"] == {"kept": "turn-1", "n": 3}
    assert len(await _fields(raw, "t", b"b")) == 2


async def test_aprune_when_strategy_unknown_then_value_error(saver: RedisSaver) -> None:
    """A misspelt strategy is refused rather than ignored."""
    with pytest.raises(ValueError, match="keep_latest"):
        await saver.aprune(["t"], strategy="latest")


async def test_alist_when_no_namespace_given_then_all_namespaces_newest_first(
    saver: RedisSaver,
) -> None:
    """Without checkpoint_ns a thread's namespaces are merged in descending id order."""
    ids = []
    for ns in ("", "child:1", ""):
        stored = await put(saver, "t", ns=ns)
        ids.append(stored["configurable"]["checkpoint_id"])

    listed = [t.checkpoint["id"] async for t in saver.alist({"configurable": {"thread_id": "t"}})]

    assert listed == sorted(ids, reverse=True)


async def test_alist_when_config_is_none_then_every_thread_with_filter_and_limit(
    saver: RedisSaver,
) -> None:
    """config=None searches all threads; filter and limit still apply."""
    for thread_id in ("a", "b", "c"):
        await put(saver, thread_id, source="input")
        await put(saver, thread_id, source="loop")

    inputs = [t async for t in saver.alist(None, filter={"source": "input"})]
    two = [t async for t in saver.alist(None, limit=2)]

    assert sorted(t.config["configurable"]["thread_id"] for t in inputs) == ["a", "b", "c"]
    assert len(two) == 2


async def test_saver_when_custom_serde_then_it_encodes_everything(
    redis_db: str, raw: aioredis.Redis
) -> None:
    """Checkpoint, metadata, blobs and writes all pass through the saver's serde."""
    seen: list[str] = []

    class Recording(JsonPlusSerializer):
        def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
            seen.append(type(obj).__name__)
            return super().dumps_typed(obj)

    async with RedisSaver.from_url(redis_db, serde=Recording()) as saver:
        stored = await put(saver, "t", changed={"a": {1, 2}})
        await saver.aput_writes(stored, [("a", {3})], "task")
        found = await saver.aget_tuple(stored)

    assert seen == ["dict", "dict", "set", "set"]
    assert found is not None and found.checkpoint["channel_values"] == {"a": {1, 2}}
    assert found.pending_writes == [("task", "a", {3})]
    (blob,) = await _fields(raw, "t", b"b")
    stored_blob = cast("bytes", await raw.hget("{lg:t:t}:data", blob))
    assert stored_blob.startswith(b"msgpack\0")


async def test_aput_when_name_contains_nul_then_value_error(saver: RedisSaver) -> None:
    """A NUL byte would corrupt the layout, so it is refused before anything is sent."""
    with pytest.raises(ValueError, match="NUL"):
        await saver.aput(config("t", ns="bad\0ns"), empty_checkpoint(), {}, {})


async def test_saver_when_client_decodes_responses_then_value_error(redis_db: str) -> None:
    """Blobs are bytes; a client that decodes replies to str is refused up front."""
    client = aioredis.Redis.from_url(redis_db, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisSaver(client)
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("get_tuple", (config("t"),)),
        ("put", (config("t"), empty_checkpoint(), {}, {})),
        ("put_writes", (config("t", "x"), [], "task")),
        ("delete_thread", ("t",)),
        ("copy_thread", ("t", "u")),
        ("prune", (["t"],)),
        ("delete_for_runs", (["r"],)),
    ],
)
def test_sync_method_when_called_then_names_the_async_one(
    method: str, args: tuple[Any, ...]
) -> None:
    """Sync calls fail with a message pointing at the async method to use."""
    client = aioredis.Redis()
    saver = RedisSaver(client)

    with pytest.raises(NotImplementedError, match=f"await saver.a{method}"):
        getattr(saver, method)(*args)


def test_list_when_called_then_names_alist() -> None:
    """The sync generator raises as soon as it is iterated."""
    saver = RedisSaver(aioredis.Redis())

    with pytest.raises(NotImplementedError, match="alist"):
        saver.list(config("t"))


def test_get_next_version_when_chained_then_increasing_as_strings() -> None:
    """Versions sort as strings, continue from ints and other savers' 32-digit versions."""
    saver = RedisSaver(aioredis.Redis())
    versions = [saver.get_next_version(None, None)]
    for _ in range(11):
        versions.append(saver.get_next_version(versions[-1], None))

    assert versions == sorted(versions)
    assert len(set(versions)) == 12
    assert saver.get_next_version(7, None).startswith("0000000000000008.")
    other_saver_version = f"{41:032}.{0.5:016}"
    assert saver.get_next_version(other_saver_version, None) > other_saver_version


def test_saver_when_prefix_has_braces_then_value_error() -> None:
    """Braces in the prefix would break the per-thread hash tag, so they are refused."""
    with pytest.raises(ValueError, match="braces"):
        RedisSaver(aioredis.Redis(), key_prefix="a{b}")


@pytest.mark.parametrize("protocol", [2, 3])
async def test_aget_tuple_when_blob_never_stored_then_channel_absent(
    redis_db: str, protocol: int
) -> None:
    """A version without a blob reads as absent, whether Redis says nil (RESP2) or false."""
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"a": 1}
    checkpoint["channel_versions"] = {"a": "1", "ghost": "1"}
    async with RedisSaver.from_url(redis_db, protocol=protocol) as saver:
        stored = await saver.aput(config("t"), checkpoint, {}, {"a": "1"})
        await saver.aput_writes(stored, [("a", 2)], "task")
        found = await saver.aget_tuple(stored)

    assert found is not None
    assert found.checkpoint["channel_values"] == {"a": 1}
    assert found.pending_writes == [("task", "a", 2)]
