"""Build and store checkpoints the way LangGraph's loop does, without a graph."""

from __future__ import annotations

from typing import Any, cast

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointMetadata,
    empty_checkpoint,
)
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer


def config(thread_id: str, checkpoint_id: str | None = None, ns: str = "") -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


async def put(
    saver: BaseCheckpointSaver[Any],
    thread_id: str,
    *,
    changed: dict[str, Any] | None = None,
    parent: RunnableConfig | None = None,
    ns: str = "",
    **metadata: Any,
) -> RunnableConfig:
    """Store a child of ``parent`` (or a first checkpoint) in which ``changed`` got new values.

    Like the loop, only changed channels get a new version; the others keep theirs.
    """
    previous: Checkpoint | None = None
    if parent is not None:
        found = await saver.aget_tuple(parent)
        assert found is not None
        previous = found.checkpoint
    checkpoint = empty_checkpoint()
    if previous is not None:
        checkpoint["channel_values"] = dict(previous["channel_values"])
        checkpoint["channel_versions"] = dict(previous["channel_versions"])
    new_versions = {}
    for channel, value in (changed or {}).items():
        version = saver.get_next_version(checkpoint["channel_versions"].get(channel), None)
        checkpoint["channel_versions"][channel] = version
        checkpoint["channel_values"][channel] = value
        new_versions[channel] = version
    cfg = config(thread_id, parent["configurable"]["checkpoint_id"] if parent else None, ns)
    meta = cast(CheckpointMetadata, {"source": "loop", "step": 0, **metadata})
    return await saver.aput(cfg, checkpoint, meta, new_versions)


class CountingSerde(JsonPlusSerializer):
    """The default serializer, counting what it decodes and the messages it encodes."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0
        self.messages = 0

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        self.loads += 1
        return super().loads_typed(data)

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        self.messages += isinstance(obj, BaseMessage)
        return super().dumps_typed(obj)


async def read_messages(saver: BaseCheckpointSaver[Any], cfg: RunnableConfig) -> list[BaseMessage]:
    """The ``messages`` channel of the checkpoint ``cfg`` names."""
    found = await saver.aget_tuple(cfg)
    assert found is not None
    return cast("list[BaseMessage]", found.checkpoint["channel_values"]["messages"])
