"""ThreadAccess.check: the owner and graph rule, read from the checkpoint's metadata alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import pytest
from langgraph.checkpoint.base import CheckpointTuple

from app.errors import ThreadGraphMismatch, ThreadNotFound
from app.runs.spec import RunSpec
from app.stores.checkpointer import Checkpointer
from app.stores.records import Records, ThreadRecord
from app.threads.access import ThreadAccess
from graphs import Registry
from redis_saver import RedisSaver
from tests.redis_saver.checkpoints import put


class NoRecords:
    """Records of threads made before their first run: none here, unless given."""

    def __init__(self, **records: ThreadRecord) -> None:
        self.records = records

    async def get(self, thread_id: str) -> ThreadRecord | None:
        return self.records.get(thread_id)


class MetadataOnlySaver(RedisSaver):
    """A Redis saver that fails the test if a whole checkpoint is read."""

    async def aget_tuple(self, config: Any) -> CheckpointTuple | None:
        raise AssertionError("the check read the whole checkpoint")


def _flat(saver: RedisSaver) -> Checkpointer:
    """The checkpointer as open_checkpointer picks it for Redis: heads read without values."""
    return Checkpointer(saver, "redis", read_head=saver.aget_head)


@pytest.fixture
async def access(redis_db: str) -> AsyncIterator[ThreadAccess]:
    """ThreadAccess on a saver holding thread t (user u1, graph chat) and no records."""
    async with RedisSaver.from_url(redis_db) as writer:
        await put(writer, "t", changed={"a": 1}, user_id="u1", graph_name="chat")
    async with MetadataOnlySaver.from_url(redis_db) as saver:
        yield ThreadAccess(_flat(saver), cast(Registry, None), cast(Records, NoRecords()))


def _spec(thread_id: str, user_id: str, graph: str = "chat") -> RunSpec:
    return cast(
        RunSpec,
        SimpleNamespace(thread_id=thread_id, user_id=user_id, graph=SimpleNamespace(name=graph)),
    )


async def test_check_when_owner_continues_then_passes_without_reading_values(
    access: ThreadAccess,
) -> None:
    """The owner continuing with the thread's graph passes, from the metadata alone."""
    await access.check(_spec("t", "u1"))
    await access.check(_spec("new-thread", "anyone"))


async def test_check_when_other_user_then_not_found(access: ThreadAccess) -> None:
    """Another user's thread is a 404, as if it did not exist."""
    with pytest.raises(ThreadNotFound):
        await access.check(_spec("t", "u2"))


async def test_check_when_other_graph_then_mismatch(access: ThreadAccess) -> None:
    """A thread continues with its own graph only."""
    with pytest.raises(ThreadGraphMismatch):
        await access.check(_spec("t", "u1", graph="other"))


async def test_check_when_thread_has_only_a_record_then_its_user_owns_it(redis_db: str) -> None:
    """A thread made through the LangGraph API before any run is owned by its record's user."""
    records = NoRecords(r=ThreadRecord("r", "u1", 0.0, 0.0))
    async with MetadataOnlySaver.from_url(redis_db) as saver:
        access = ThreadAccess(_flat(saver), cast(Registry, None), cast(Records, records))
        await access.check(_spec("r", "u1"))
        with pytest.raises(ThreadNotFound):
            await access.check(_spec("r", "u2"))
