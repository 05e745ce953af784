"""A streamed reply's chunks, merged as they arrive rather than all kept until the end."""

from __future__ import annotations

from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

__all__ = ["MERGE_EVERY", "MergedReply"]

# ainvoke merges a reply's chunks this many at a time rather than all at the end.
MERGE_EVERY = 8


class MergedReply:
    """A reply's chunks, merged as they come into what ``generate_from_stream`` would make.

    ``generate_from_stream`` computes ``first + [rest...]``, and every part of that sum (text,
    metadata and usage dicts, generation info, id, chunk position) is a left fold, so merging
    a prefix early gives the same message. Tool-call chunks are rebuilt after merging, and the
    legacy ``additional_kwargs`` tool calls are re-parsed on construction, so from the first
    chunk that carries anything but text and metadata on, chunks are only kept, as before.
    """

    __slots__ = ("_head", "_mergeable", "_pending")

    def __init__(self) -> None:
        self._head: ChatGenerationChunk | None = None
        self._pending: list[ChatGenerationChunk] = []
        self._mergeable = True

    def add(self, chunk: ChatGenerationChunk) -> None:
        self._pending.append(chunk)
        if self._mergeable:
            message = chunk.message
            self._mergeable = (
                type(chunk) is ChatGenerationChunk
                and type(message) is AIMessageChunk
                and isinstance(message.content, str)
                and not message.tool_call_chunks
                and not message.additional_kwargs
            )
        if self._mergeable and len(self._pending) >= MERGE_EVERY:
            head, rest = (
                (self._head, self._pending)
                if self._head is not None
                else (self._pending[0], self._pending[1:])
            )
            self._head = head + rest
            self._pending = []

    def chunks(self) -> list[ChatGenerationChunk]:
        return self._pending if self._head is None else [self._head, *self._pending]
