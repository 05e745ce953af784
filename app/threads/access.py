"""Who may use a thread, and with which graph; read from the thread's latest checkpoint."""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple

from app.errors import GraphNotFound, ThreadGraphMismatch, ThreadNotFound
from app.errors.mapping import raise_mapped
from app.runs.spec import RunSpec
from app.stores.records import Records
from graphs import GraphVersion, Registry, UnknownGraph


class ThreadAccess:
    """Reads a thread's binding (owner and graph) from its latest checkpoint's metadata."""

    def __init__(
        self,
        saver: BaseCheckpointSaver[str],
        registry: Registry,
        records: Records | None = None,
    ) -> None:
        self._saver = saver
        self._registry = registry
        self._records = records

    async def load(self, thread_id: str, user_id: str | None) -> CheckpointTuple | None:
        """The thread's latest checkpoint, if it exists and belongs to ``user_id`` (``None``:
        to anyone, for a service key or an open server that names no user)."""
        try:
            saved = await self._saver.aget_tuple(
                {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
            )
        except Exception as exc:
            raise_mapped(exc)
        if saved is None:
            # A thread made through the LangGraph API has a record, and an owner, before
            # its first checkpoint.
            record = await self._records.get(thread_id) if self._records is not None else None
            if record is not None and user_id is not None and record.user_id != user_id:
                raise ThreadNotFound(f"thread {thread_id!r} was not found")
            return None
        owner = saved.metadata.get("user_id")
        if owner is not None and user_id is not None and owner != user_id:
            # 404, not 403: another user's thread id must reveal nothing.
            raise ThreadNotFound(f"thread {thread_id!r} was not found")
        return saved

    async def require(self, thread_id: str, user_id: str | None) -> CheckpointTuple:
        """Like :meth:`load`, but a thread that does not exist is a 404."""
        saved = await self.load(thread_id, user_id)
        if saved is None:
            raise ThreadNotFound(f"thread {thread_id!r} was not found")
        return saved

    async def check(self, spec: RunSpec) -> None:
        """A thread continues with its own graph (any version) and only for its owner."""
        saved = await self.load(spec.thread_id, spec.user_id)
        if saved is None:
            return
        bound = saved.metadata.get("graph_name")
        if bound is not None and bound != spec.graph.name:
            raise ThreadGraphMismatch(
                f"thread {spec.thread_id!r} belongs to graph {bound!r}; it cannot continue "
                f"with {spec.graph.name!r} (any version of {bound!r} can)"
            )

    def graph_of(self, saved: CheckpointTuple) -> GraphVersion:
        """The version that wrote ``saved``, or its graph's default if that one is gone."""
        name = saved.metadata.get("graph_name")
        version = saved.metadata.get("graph_version")
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
