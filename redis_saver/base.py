"""A checkpointer base whose sync methods say which async method to call instead.

``RedisSaver`` holds asyncio connections bound to one event loop; a sync call would have to
block that loop to wait for them. LangGraph picks the async methods for ``ainvoke`` and
``astream``, so only a sync entry point (``invoke``, ``get_state``) lands here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NoReturn

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)


class AsyncOnlySaver(BaseCheckpointSaver[str]):
    def _async_only(self, name: str) -> NoReturn:
        raise NotImplementedError(
            f"{type(self).__name__} is async-only: use `await saver.a{name}(...)` instead of "
            f"`saver.{name}(...)` (and `graph.ainvoke`/`astream` instead of `invoke`/`stream`)."
        )

    def get(self, config: RunnableConfig) -> Checkpoint | None:
        self._async_only("get")

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        self._async_only("get_tuple")

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        self._async_only("list")

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        self._async_only("put")

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._async_only("put_writes")

    def delete_thread(self, thread_id: str) -> None:
        self._async_only("delete_thread")

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._async_only("delete_for_runs")

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._async_only("copy_thread")

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._async_only("prune")

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        self._async_only("get_delta_channel_history")
