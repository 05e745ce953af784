"""Messages decoded once per process: a thread's history is not deserialised again every turn.

Rebuilding a message from its bytes runs its pydantic validation (about 15 us for an
``AIMessage``), so reading a 300-turn thread cost 10 ms a turn. The bytes of a reference are
immutable (its digest names them), so the message they decode to can be kept: the cache
holds one *template* per digest and hands out shallow copies (``model_copy``, about 1.5 us), so
a caller that reassigns a field of its message (``message.content = ...``) changes its copy
only.

A caller that mutates a nested value in place (``message.additional_kwargs[k] = v``) changes
the template too. The saver re-serialises every message it stores anyway; when a message id
comes back under another digest, :meth:`DecodedMessages.verify` re-checks that id's template
and drops it if its bytes no longer match its digest, so a changed template is not handed out
again after the put that stored the change.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from langchain_core.messages import BaseMessage
from langgraph.checkpoint.serde.base import SerializerProtocol

from redis_saver.messages import digest

# About 1.5 KB a template: 16,384 messages (20 threads of 400 turns) hold some 25 MB.
DEFAULT_ENTRIES = 16384


class DecodedMessages:
    """An LRU of digest -> the message its bytes decode to (``max_entries=0``: none kept)."""

    def __init__(self, max_entries: int = DEFAULT_ENTRIES) -> None:
        if max_entries < 0:
            raise ValueError("max_entries must be 0 (no cache) or more")
        self.max_entries = max_entries
        self._templates: OrderedDict[bytes, BaseMessage] = OrderedDict()
        self._digest_of: dict[str, bytes] = {}  # message id -> the digest it was decoded from

    def get(self, message_digest: bytes) -> BaseMessage | None:
        """A copy of the message stored under ``message_digest``, if it is kept here."""
        template = self._templates.get(message_digest)
        if template is None:
            return None
        self._templates.move_to_end(message_digest)
        return template.model_copy()

    def keep(self, message_digest: bytes, message: BaseMessage) -> BaseMessage:
        """Keep ``message`` (just decoded) as the template; the caller gets a copy of it."""
        if not self.max_entries:
            return message
        self._templates[message_digest] = message
        if message.id:
            self._digest_of[message.id] = message_digest
        while len(self._templates) > self.max_entries:
            gone_digest, gone = self._templates.popitem(last=False)
            if gone.id and self._digest_of.get(gone.id) == gone_digest:
                del self._digest_of[gone.id]
        return message.model_copy()

    def verify(self, serde: SerializerProtocol, stored: Iterable[tuple[str | None, bytes]]) -> None:
        """After a put: for each (message id, digest) stored whose id this cache decoded under
        another digest, drop that template unless it still encodes to its digest."""
        for message_id, message_digest in stored:
            if not message_id:
                continue
            old = self._digest_of.get(message_id)
            if old is None or old == message_digest:
                continue
            template = self._templates.get(old)
            if template is not None:
                type_, data = serde.dumps_typed(template)
                if digest(b"".join((type_.encode(), b"\0", data))) != old:
                    del self._templates[old]
            del self._digest_of[message_id]

    def __len__(self) -> int:
        return len(self._templates)
