"""Message lists stored once per thread: a channel's value becomes a list of references.

A chat thread's ``messages`` channel gets a new version every turn, and each version used to
be stored whole, so a thread with history cost the square of its length, and every turn
wrote its whole history again. A channel whose value is a list of messages that all have ids
is stored instead as a *reference list*: ``msgrefs\\0`` then one fixed-width digest per
message, and each message once, in the thread's data hash under
``m\\0<ns>\\0<digest>``. The digest is taken over the message's serialised bytes, so an edit
(or a ``RemoveMessage`` followed by a new message with the same id) is a new entry, and the
old one stays readable for the checkpoints that name it.

A put sends only the messages the saver does not know to be stored already: those of the
thread's newest reference list it read or wrote (:class:`KnownRefs`). The PUT script checks
that every other digest is there, and refuses the whole write when one is not (a thread
deleted or expired mid-run, another replica's prune), so a reference never dangles.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeGuard

from langchain_core.messages import BaseMessage
from langgraph.checkpoint.serde.base import SerializerProtocol

from redis_saver.errors import StoredMessageMissing

if TYPE_CHECKING:
    from redis_saver.decoded import DecodedMessages

REFS_TAG = b"msgrefs\0"  # no serializer type is called this, so old blobs never match
# 96 bits: a collision needs about 2**48 messages in one thread's namespace.
DIGEST_SIZE = 12


def is_message_list(value: object) -> TypeGuard[list[BaseMessage]]:
    """A plain non-empty list of messages that all carry an id: what ``add_messages`` keeps."""
    if type(value) is not list or not value:
        return False
    return all(isinstance(m, BaseMessage) and m.id for m in value)


def digest(encoded: bytes) -> bytes:
    return hashlib.blake2b(encoded, digest_size=DIGEST_SIZE).digest()


def message_field(ns: bytes, message_digest: bytes) -> bytes:
    return b"".join((b"m\0", ns, b"\0", message_digest))


def is_refs(blob: bytes) -> bool:
    return blob.startswith(REFS_TAG)


def digests_of(refs: bytes) -> Iterator[bytes]:
    """The digests of a reference list (its bytes after :data:`REFS_TAG`)."""
    start = len(REFS_TAG)
    for at in range(start, len(refs), DIGEST_SIZE):
        yield refs[at : at + DIGEST_SIZE]


class EncodedList:
    """A message list as a reference list plus the messages it names, each serialised."""

    __slots__ = ("blob", "ids", "messages")

    def __init__(self, serde: SerializerProtocol, messages: Sequence[BaseMessage]) -> None:
        self.messages: dict[bytes, bytes] = {}  # digest -> "<type>\0<bytes>", in list order
        self.ids: list[tuple[str | None, bytes]] = []  # (message id, digest), in list order
        refs = [REFS_TAG]
        for message in messages:
            type_, data = serde.dumps_typed(message)
            encoded = b"".join((type_.encode(), b"\0", data))
            d = digest(encoded)
            self.messages[d] = encoded
            self.ids.append((message.id, d))
            refs.append(d)
        self.blob = b"".join(refs)

    def unsent(self, known: frozenset[bytes]) -> list[tuple[bytes, bytes]]:
        """The (digest, encoded) pairs the thread is not known to hold yet."""
        return [(d, e) for d, e in self.messages.items() if d not in known]


def decode_refs(
    serde: SerializerProtocol,
    ns: bytes,
    refs: bytes,
    stored: Mapping[bytes, Any],
    decoded: DecodedMessages,
) -> list[Any]:
    """Rebuild a list from its references, decoding only what ``decoded`` does not hold."""
    out = []
    for d in digests_of(refs):
        message = decoded.get(d)
        if message is None:
            raw = stored.get(message_field(ns, d))
            if not isinstance(raw, bytes):
                # The PUT script refuses a reference it cannot see stored, and only a
                # drop that finds no checkpoint naming a message deletes it.
                raise StoredMessageMissing(f"message {d.hex()} of namespace {ns!r} is not stored")
            type_, _, data = raw.partition(b"\0")
            message = decoded.keep(d, serde.loads_typed((type_.decode(), data)))
        out.append(message)
    return out


class KnownRefs:
    """The newest reference list seen per (thread, namespace, channel), a bounded LRU.

    What a put may leave out: every message of the list this process last read or wrote for
    the channel. Keeping the list's bytes (12 bytes a message) rather than a set keeps a
    300-turn thread at about 7 KB here.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._refs: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()

    def remember(self, thread_id: str, ns: str, channel: str, refs: bytes) -> None:
        key = (thread_id, ns, channel)
        self._refs[key] = refs
        self._refs.move_to_end(key)
        while len(self._refs) > self.max_entries:
            self._refs.popitem(last=False)

    def known(self, thread_id: str, ns: str, channel: str) -> frozenset[bytes]:
        refs = self._refs.get((thread_id, ns, channel))
        if refs is None:
            return frozenset()
        self._refs.move_to_end((thread_id, ns, channel))
        return frozenset(digests_of(refs))

    def forget_thread(self, thread_id: str) -> None:
        for key in [k for k in self._refs if k[0] == thread_id]:
            del self._refs[key]

    def __len__(self) -> int:
        return len(self._refs)
