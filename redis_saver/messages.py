"""Message lists stored once per thread: a channel's value becomes a list of references.

A chat thread's ``messages`` channel gets a new version every turn, and each version used to
be stored whole, so a thread with history cost the square of its length, and every turn
wrote its whole history again. A channel whose value is a list of messages that all have ids
is stored instead as a *reference list*, and each message once, in the thread's data hash
under ``m\\0<ns>\\0<digest>``. The digest is taken over the message's serialised bytes, so an
edit (or a ``RemoveMessage`` followed by a new message with the same id) is a new entry, and
the old one stays readable for the checkpoints that name it.

A flat reference list (12 bytes a message) still grows with the thread, and with sync
durability a turn stores two or three versions of it: 14 KB a turn at 300 turns. So the list
is cut into *segments* of :data:`SEGMENT_SIZE` digests from its start, each stored once under
``s\\0<ns>\\0<digest of its digests>``; a version names its full segments and lists the rest
(its *tail*) itself: ``msgsegs\\0<number of segments>\\0``, the segment digests, then the tail's
digests. Appending messages leaves every full segment as it was, so a late turn writes a few
hundred bytes of references, and a new segment once every :data:`SEGMENT_SIZE` messages.
Flat lists (``msgrefs\\0`` then one digest per message), as an earlier version wrote them,
still read.

A put sends only the messages and segments the saver does not know to be stored already:
those of the thread's newest reference list it read or wrote (:class:`KnownRefs`). The PUT
script checks that everything else named is there, and refuses the whole write when
something is not (a thread deleted or expired mid-run, another replica's prune), so a
reference never dangles. A stored segment's messages are stored too: the drops delete a
message only when no live list names it, in its tail or through a segment.
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
    from redis_saver.encoded import EncodedMessages

# No serializer type is called either, so a whole-value blob never matches.
REFS_TAG = b"msgrefs\0"  # a flat reference list (read only)
SEGS_TAG = b"msgsegs\0"  # a segmented one
# 96 bits: a collision needs about 2**48 messages in one thread's namespace.
DIGEST_SIZE = 12
# Messages per segment: a version's references are at most 64 digests of tail plus one per
# segment (a 600-message list: 9 segments and 24 tail digests, 400 bytes).
SEGMENT_SIZE = 64


def is_message_list(value: object) -> TypeGuard[list[BaseMessage]]:
    """A plain non-empty list of messages that all carry an id: what ``add_messages`` keeps."""
    if type(value) is not list or not value:
        return False
    return all(isinstance(m, BaseMessage) and m.id for m in value)


def digest(encoded: bytes) -> bytes:
    return hashlib.blake2b(encoded, digest_size=DIGEST_SIZE).digest()


def message_field(ns: bytes, message_digest: bytes) -> bytes:
    return b"".join((b"m\0", ns, b"\0", message_digest))


def segment_field(ns: bytes, segment_digest: bytes) -> bytes:
    return b"".join((b"s\0", ns, b"\0", segment_digest))


def is_refs(blob: bytes) -> bool:
    return blob.startswith(SEGS_TAG) or blob.startswith(REFS_TAG)


def digests_of(packed: bytes) -> Iterator[bytes]:
    """The digests packed one after another in ``packed``."""
    for at in range(0, len(packed), DIGEST_SIZE):
        yield packed[at : at + DIGEST_SIZE]


def split_refs(refs: bytes) -> tuple[bytes, bytes]:
    """A reference list's packed segment digests and packed tail digests."""
    if refs.startswith(REFS_TAG):
        return b"", refs[len(REFS_TAG) :]
    count, _, rest = refs[len(SEGS_TAG) :].partition(b"\0")
    cut = int(count) * DIGEST_SIZE
    return rest[:cut], rest[cut:]


class EncodedList:
    """A message list as a reference list plus the messages and segments it names."""

    __slots__ = ("blob", "fresh", "known", "messages", "segments")

    def __init__(
        self, serde: SerializerProtocol, messages: Sequence[BaseMessage], cache: EncodedMessages
    ) -> None:
        self.messages: dict[bytes, bytes] = {}  # digest -> "<type>\0<bytes>", in list order
        # (message id, digest) of the messages serialised for this list (not kept encoded)
        self.fresh: list[tuple[str | None, bytes]] = []
        digests = []
        for message in messages:
            d, encoded, fresh = cache.encode(serde, message)
            self.messages[d] = encoded
            if fresh:
                self.fresh.append((message.id, d))
            digests.append(d)
        self.segments: dict[bytes, bytes] = {}  # digest -> the packed digests it holds
        names = []  # a list that repeats itself names one segment twice
        full = len(digests) // SEGMENT_SIZE
        for at in range(0, full * SEGMENT_SIZE, SEGMENT_SIZE):
            packed = b"".join(digests[at : at + SEGMENT_SIZE])
            names.append(name := digest(packed))
            self.segments[name] = packed
        tail = b"".join(digests[full * SEGMENT_SIZE :])
        self.blob = b"".join((SEGS_TAG, str(full).encode(), b"\0", *names, tail))
        # What the thread holds once this list is stored: every segment and message digest.
        self.known = b"".join((b"".join(self.segments), b"".join(self.messages)))

    def unsent(self, known: frozenset[bytes]) -> list[tuple[bytes, bytes]]:
        """The (digest, encoded) messages the thread is not known to hold yet."""
        return [(d, e) for d, e in self.messages.items() if d not in known]

    def unsent_segments(self, known: frozenset[bytes]) -> list[tuple[bytes, bytes]]:
        """The (digest, packed digests) segments the thread is not known to hold yet."""
        return [(d, s) for d, s in self.segments.items() if d not in known]


def decode_refs(
    serde: SerializerProtocol,
    ns: bytes,
    refs: bytes,
    stored: Mapping[bytes, Any],
    decoded: DecodedMessages,
) -> tuple[list[Any], bytes]:
    """Rebuild a list from its references, decoding only what ``decoded`` does not hold.

    Also returns what the list shows the thread to hold (its segments' and messages'
    digests, packed), for :class:`KnownRefs`.
    """
    segments, tail = split_refs(refs)
    packed = []
    for s in digests_of(segments):
        held = stored.get(segment_field(ns, s))
        if not isinstance(held, bytes):
            raise StoredMessageMissing(f"segment {s.hex()} of namespace {ns!r} is not stored")
        packed.append(held)
    packed.append(tail)
    all_digests = b"".join(packed)
    out = []
    for d in digests_of(all_digests):
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
    return out, segments + all_digests


class KnownRefs:
    """What the newest reference list seen per (thread, namespace, channel) names, an LRU.

    What a put may leave out: every segment and message of the list this process last read
    or wrote for the channel. Keeping their digests packed (12 bytes each) rather than a set
    keeps a 300-turn thread at about 7 KB here.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._refs: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()

    def remember(self, thread_id: str, ns: str, channel: str, packed: bytes) -> None:
        key = (thread_id, ns, channel)
        self._refs[key] = packed
        self._refs.move_to_end(key)
        while len(self._refs) > self.max_entries:
            self._refs.popitem(last=False)

    def known(self, thread_id: str, ns: str, channel: str) -> frozenset[bytes]:
        packed = self._refs.get((thread_id, ns, channel))
        if packed is None:
            return frozenset()
        self._refs.move_to_end((thread_id, ns, channel))
        return frozenset(digests_of(packed))

    def forget_thread(self, thread_id: str) -> None:
        for key in [k for k in self._refs if k[0] == thread_id]:
            del self._refs[key]

    def __len__(self) -> int:
        return len(self._refs)
