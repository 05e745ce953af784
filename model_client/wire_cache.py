"""Each message's chat-completions form, kept between calls, so a turn converts only what is new.

A long thread's history is the same on every call, yet ``ChatOpenAI`` converts every message
to its request dict again, and the SDK then walks each dict against its ``TypedDict``s (about
100 us a message: 65 ms a call at 600 messages). :class:`MessageWireCache` keeps the dict a
message became, under (model, message id), beside a deep copy of the message as it was: a
message that compares equal to that copy (field by field, as pydantic's ``==``) gets the same dict
back; one edited under the same id misses and is converted again. The history a turn reads
from the checkpointer is new objects each time, so the key cannot be object identity.

The entries are shared between calls: a payload built from them must not be changed in place
(``FastChatOpenAI`` only serialises it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import BaseMessage

__all__ = ["DEFAULT_ENTRIES", "MessageWireCache", "shared_cache"]

# Room for 20 threads of 300 turns at once (12,000 messages, some 20 MB) before a long
# thread's history starts to evict itself.
DEFAULT_ENTRIES = 16384

WireDict = dict[str, Any]


class MessageWireCache:
    """An LRU of (model, message id) -> (the message as converted, its request dict)."""

    def __init__(self, max_entries: int = DEFAULT_ENTRIES) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[str, str], tuple[BaseMessage, WireDict]] = OrderedDict()

    def convert(
        self,
        model: str,
        messages: Sequence[BaseMessage],
        convert: Callable[[list[BaseMessage]], list[WireDict]],
    ) -> list[WireDict]:
        """The request dicts of ``messages``; ``convert`` makes those of the ones not cached."""
        out: list[WireDict | None] = []
        missed: list[int] = []
        for i, message in enumerate(messages):
            entry = self._entries.get((model, message.id)) if message.id else None
            if entry is not None and _same(entry[0], message):
                self._entries.move_to_end((model, message.id))  # type: ignore[arg-type]
                out.append(entry[1])
            else:
                out.append(None)
                missed.append(i)
        self.hits += len(messages) - len(missed)
        self.misses += len(missed)
        if missed:
            fresh = convert([messages[i] for i in missed])
            for i, wire in zip(missed, fresh, strict=True):
                out[i] = wire
                message = messages[i]
                if message.id:
                    # A copy: the caller's message may still be changed in place after this.
                    self._entries[(model, message.id)] = (message.model_copy(deep=True), wire)
                    self._entries.move_to_end((model, message.id))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return [wire for wire in out if wire is not None]

    def clear(self) -> None:
        self._entries.clear()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


def _same(kept: BaseMessage, message: BaseMessage) -> bool:
    """pydantic's ``==`` (fields and extra fields) without its per-call overhead, which a
    600-message history pays on every call."""
    return (
        type(kept) is type(message)
        and kept.__dict__ == message.__dict__
        and (kept.__pydantic_extra__ or {}) == (message.__pydantic_extra__ or {})
    )


_SHARED = MessageWireCache()


def shared_cache() -> MessageWireCache:
    """The process's cache: every model of a server shares one bound."""
    return _SHARED
