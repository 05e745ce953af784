"""Which interrupts a thread waits an answer for, read from its newest checkpoint's writes.

``graph.aget_state`` answers the same question, but it rebuilds the channels, so a long
thread's whole history is decoded before every turn. The answer lies in the pending writes
alone (read without the values where the saver can: ``Checkpointer.head``), by LangGraph's
rule for them (``langgraph/pregel/_task_status.py``): a task that
recorded an output write has finished; an unfinished task's ``__interrupt__`` write is its
latest question, still waiting. The channel names are LangGraph's stored format (old
checkpoints carry them), not an API; ``tests/unit/test_pending_interrupts.py`` holds this reading to
``aget_state``'s on the same threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langgraph.checkpoint.base import PendingWrite

from app.stores.checkpointer import Checkpointer

_INTERRUPT = "__interrupt__"
# What happened to a task rather than what it produced: not an output.
_CONTROL = frozenset((_INTERRUPT, "__resume__", "__error__", "__error_source_node__"))
_NULL_TASK_ID = "00000000-0000-0000-0000-000000000000"  # the step's input, not a task


def waiting(writes: Iterable[PendingWrite]) -> tuple[Any, ...]:
    """The interrupts of the tasks that asked and have not finished, in write order."""
    asked: dict[str, list[Any]] = {}
    finished: set[str] = set()
    for task_id, channel, value in writes:
        if task_id == _NULL_TASK_ID:
            continue
        if channel == _INTERRUPT:
            asked.setdefault(task_id, []).extend(value if isinstance(value, Sequence) else [value])
        elif channel not in _CONTROL:
            finished.add(task_id)
    return tuple(i for task_id, ints in asked.items() if task_id not in finished for i in ints)


async def read_pending(checkpointer: Checkpointer, thread_id: str) -> tuple[Any, ...]:
    """The thread's pending interrupts, from its newest checkpoint's writes."""
    head = await checkpointer.head(thread_id)
    return waiting(head.pending_writes or ()) if head is not None else ()
