"""The one rule for who may read or write a thread or a run, and with which graph.

A thread's owner is named by its latest checkpoint (every run copies its user into the
checkpoint's metadata) or, for a thread made through the LangGraph API that has no checkpoint
yet, by its record. An actor (the user a request acts for, from :mod:`app.auth.principal`; or
``None``, every user, for a service key naming none) may see what it owns, and nothing else:
another user's thread or run is a 404, never a 403, so ids reveal nothing. Every route of every
API that names a thread, a run or a request goes through :func:`may_see`, by way of
:class:`ThreadAccess` or directly for a run; ``tests/identity/test_route_access.py`` walks the
route table to hold them to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from langgraph.checkpoint.base import CheckpointMetadata, CheckpointTuple

from app.auth.principal import ANONYMOUS
from app.errors import GraphNotFound, ThreadGraphMismatch, ThreadNotFound
from app.errors.mapping import raise_mapped
from app.runs.spec import RunSpec
from app.stores.checkpointer import Checkpointer
from app.stores.records import Records, ThreadRecord
from graphs import GraphVersion, Registry, UnknownGraph


def may_see(owner: str, actor: str | None) -> bool:
    """Whether ``actor`` (``None``: every user) may read and write what ``owner`` owns."""
    return actor is None or owner == actor


def not_found(thread_id: str) -> ThreadNotFound:
    return ThreadNotFound(
        f"thread {thread_id!r} was not found (a thread is seen only by its owner: name the "
        "owner's userId, or send the owner's credential)"
    )


@dataclass
class FoundThread:
    thread_id: str
    owner: str
    record: ThreadRecord | None
    saved: CheckpointTuple | None  # its latest checkpoint, if it has one and it was read
    metadata: CheckpointMetadata | None = None  # that checkpoint's, read with it or alone

    def __post_init__(self) -> None:
        if self.metadata is None and self.saved is not None:
            self.metadata = self.saved.metadata


class ThreadAccess:
    """Finds threads for an actor, through the one rule."""

    def __init__(self, checkpointer: Checkpointer, registry: Registry, records: Records) -> None:
        self._checkpointer = checkpointer
        self._registry = registry
        self._records = records

    async def latest(self, thread_id: str) -> CheckpointTuple | None:
        """The thread's latest checkpoint, whoever owns it (a store failure is a 503)."""
        try:
            return await self._checkpointer.saver.aget_tuple(
                {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
            )
        except Exception as exc:
            raise_mapped(exc)

    async def latest_metadata(self, thread_id: str) -> CheckpointMetadata | None:
        """The latest checkpoint's metadata, read without its values where the saver can."""
        try:
            head = await self._checkpointer.head(thread_id, writes=False)
        except Exception as exc:
            raise_mapped(exc)
        return head.metadata if head is not None else None

    async def find(
        self, thread_id: str, actor: str | None, *, record: bool = True, values: bool = True
    ) -> FoundThread:
        """The thread, if ``actor`` may see it; else a 404, whether it exists or not. Its
        record is read when it has no checkpoint (the record names its owner) or ``record``;
        without ``values``, its latest checkpoint's metadata alone (``saved`` is ``None``)."""
        if values:
            saved = await self.latest(thread_id)
            metadata = saved.metadata if saved is not None else None
        else:
            saved, metadata = None, await self.latest_metadata(thread_id)
        found = await self._records.get(thread_id) if metadata is None or record else None
        if metadata is None and found is None:
            raise not_found(thread_id)
        owner = _visible_owner(thread_id, actor, metadata, found)
        return FoundThread(thread_id, owner, found, saved, metadata)

    async def load(self, thread_id: str, actor: str | None) -> CheckpointTuple | None:
        """The thread's latest checkpoint, if it has one and ``actor`` may see it; ``None`` for
        a thread that does not exist yet (a first turn makes it)."""
        saved = await self.latest(thread_id)
        found = await self._records.get(thread_id) if saved is None else None
        if saved is None and found is None:
            return None
        _visible_owner(thread_id, actor, saved.metadata if saved is not None else None, found)
        return saved

    async def require(self, thread_id: str, actor: str | None) -> CheckpointTuple:
        """Like :meth:`load`, but a thread without a checkpoint is a 404."""
        saved = await self.load(thread_id, actor)
        if saved is None:
            raise not_found(thread_id)
        return saved

    async def check(self, spec: RunSpec) -> None:
        """A thread continues with its own graph (any version) and only for its owner."""
        metadata = await self.latest_metadata(spec.thread_id)
        record = await self._records.get(spec.thread_id) if metadata is None else None
        if metadata is None and record is None:
            return  # a first turn makes the thread
        if not may_see(_owner(metadata, record), spec.user_id):
            raise not_found(spec.thread_id)
        if metadata is None:
            return
        bound = metadata.get("graph_name")
        if bound is not None and bound != spec.graph.name:
            raise ThreadGraphMismatch(
                f"thread {spec.thread_id!r} belongs to graph {bound!r}; it cannot continue "
                f"with {spec.graph.name!r} (any version of {bound!r} can)"
            )

    def graph_of(self, metadata: CheckpointMetadata) -> GraphVersion:
        """The version that wrote the checkpoint of ``metadata``, or its graph's default if
        that one is gone."""
        name = metadata.get("graph_name")
        version = metadata.get("graph_version")
        if not isinstance(name, str):
            raise GraphNotFound("this thread was not written by a registered graph")
        try:
            if isinstance(version, str):
                return self._registry.resolve(f"{name}::{version}")
        except UnknownGraph:
            pass
        try:
            return self._registry.default(name)
        except UnknownGraph as exc:
            raise GraphNotFound(
                f"this thread belongs to graph {name!r}, which this server no longer offers",
                details={"available": exc.available},
            ) from None


def _visible_owner(
    thread_id: str,
    actor: str | None,
    metadata: CheckpointMetadata | None,
    record: ThreadRecord | None,
) -> str:
    """The thread's owner, if ``actor`` may see the thread; else a 404."""
    owner = _owner(metadata, record)
    if not may_see(owner, actor):
        raise not_found(thread_id)
    return owner


def _owner(metadata: CheckpointMetadata | None, record: ThreadRecord | None) -> str:
    """The checkpoint's user, else the record's (a thread made before its first run)."""
    owner = record.user_id if record is not None else ANONYMOUS
    if metadata is not None:
        owner = str(metadata.get("user_id") or owner)
    return owner
