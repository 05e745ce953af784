"""Messages encoded once per process: a put does not serialise a long thread's history again.

Every put of a message list names each message by the digest of its bytes, so each message
was serialised again at every put (about 6 us each: two puts a turn of a 600-message thread
cost 7 ms). :class:`EncodedMessages` keeps, per message id, the bytes and digest a message
encoded to, beside a deep copy of the message as it was then. A message that compares equal
to that copy (field by field, as pydantic's ``==``, under 1 us) gets the same bytes back; one
changed in any way, a nested value in place included, differs from the copy and is
serialised again. The copy is what makes it safe: the messages a put sees are the graph's
own objects, which a node may have changed since the last put.

``==`` is Python's equality, so a value that changed only between equal numbers of another
type (``1`` to ``1.0``, ``True`` to ``1``) keeps the bytes it had. Nothing else is kept.
"""

from __future__ import annotations

from collections import OrderedDict

from langchain_core.messages import BaseMessage
from langgraph.checkpoint.serde.base import SerializerProtocol

from redis_saver.messages import digest

# About 2 KB an entry (the copy and the bytes): 16,384 messages (20 threads of 400 turns) hold
# some 30 MB.
DEFAULT_ENTRIES = 16384


class EncodedMessages:
    """An LRU of message id -> (the message as encoded, its digest, its bytes)
    (``max_entries=0``: none kept)."""

    def __init__(self, max_entries: int = DEFAULT_ENTRIES) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be 0 (no cache) or more")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[BaseMessage, bytes, bytes]] = OrderedDict()

    def encode(self, serde: SerializerProtocol, message: BaseMessage) -> tuple[bytes, bytes, bool]:
        """``message``'s digest, its ``"<type>\0<bytes>"``, and whether it was serialised
        now: only if it is not the message last encoded under its id."""
        message_id = message.id
        if message_id and self.max_entries:
            entry = self._entries.get(message_id)
            if entry is not None and _same(entry[0], message):
                self._entries.move_to_end(message_id)
                return entry[1], entry[2], False
        type_, data = serde.dumps_typed(message)
        encoded = b"".join((type_.encode(), b"\0", data))
        message_digest = digest(encoded)
        if message_id and self.max_entries:
            self._entries[message_id] = (message.model_copy(deep=True), message_digest, encoded)
            self._entries.move_to_end(message_id)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return message_digest, encoded, True

    def __len__(self) -> int:
        return len(self._entries)


def _same(kept: BaseMessage, message: BaseMessage) -> bool:
    """pydantic's ``==`` on what a message serialises (its fields and extra fields), without
    its per-call overhead: a long thread's put compares hundreds."""
    return (
        type(kept) is type(message)
        and kept.__dict__ == message.__dict__
        and (kept.__pydantic_extra__ or {}) == (message.__pydantic_extra__ or {})
    )
