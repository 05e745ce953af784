"""Key names, hash fields and record bytes of :class:`redis_saver.RedisSaver`.

The layout is described in ``redis_lua``. Names are joined with NUL bytes because Lua splits
them without parsing anything heavier; LangGraph's names (namespaces, ids, channels, task
ids) never contain NUL, and :func:`check_name` refuses the odd one that does rather than
corrupt a thread.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    PendingWrite,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from redis_saver import messages
from redis_saver.decoded import DecodedMessages

SEP = "\0"
EMPTY_BLOB = b"empty\0"  # a channel with a version but no value, as the other savers store it
_EMPTY_TYPE = b"empty"
_GLOB_SPECIAL = frozenset("*?[]\\")


class ThreadKeys(NamedTuple):
    data: str  # hash: records, blobs, writes
    zindex: str  # sorted set: checkpoint, write and run names


def thread_keys(prefix: str, thread_id: str) -> ThreadKeys:
    """The two keys of a thread; the ``{...}`` hash tag puts both in one cluster slot."""
    tag = f"{{{prefix}:t:{thread_id}}}"
    return ThreadKeys(f"{tag}:data", f"{tag}:index")


def run_key(prefix: str, run_id: str) -> str:
    """Set of the thread ids that hold checkpoints of a run."""
    return f"{{{prefix}:r:{run_id}}}"


def thread_index_pattern(prefix: str) -> str:
    """SCAN pattern matching the index key of every thread under ``prefix``."""
    escaped = "".join(f"\\{c}" if c in _GLOB_SPECIAL else c for c in prefix)
    return f"{{{escaped}:t:*}}:index"


def thread_id_of_index_key(prefix: str, key: bytes | str) -> str:
    name = key.decode() if isinstance(key, bytes) else key
    return name[len(prefix) + 4 : -len("}:index")]


def check_name(kind: str, value: str) -> str:
    if SEP in value:
        raise ValueError(f"RedisSaver cannot store a {kind} containing a NUL byte: {value!r}")
    return value


def checkpoint_member(ns: str, checkpoint_id: str) -> str:
    return f"c\0{ns}\0{checkpoint_id}"


def blob_field(ns: str, channel: str, version: str | int | float) -> str:
    return f"b\0{ns}\0{channel}\0{version}"


def write_field(ns: str, checkpoint_id: str, task_id: str, idx: int) -> str:
    return f"w\0{ns}\0{checkpoint_id}\0{task_id}\0{idx}"


def encode_blob(typed: tuple[str, bytes]) -> bytes:
    return b"".join((typed[0].encode(), b"\0", typed[1]))


def encode_write(channel: str, task_path: str, typed: tuple[str, bytes]) -> bytes:
    return b"".join(
        (channel.encode(), b"\0", task_path.encode(), b"\0", typed[0].encode(), b"\0", typed[1])
    )


def encode_record(
    run_id: str,
    channel_versions: ChannelVersions,
    parent_id: str | None,
    checkpoint: tuple[str, bytes],
    metadata: tuple[str, bytes],
) -> bytes:
    """``<n>:<header><body>``: Lua reads only the n-byte header (run id, channel versions)."""
    tokens = [run_id]
    for channel, version in channel_versions.items():
        tokens.append(check_name("channel name", channel))
        tokens.append(check_name("channel version", str(version)))
    header = SEP.join(tokens).encode()
    cp_type, cp_bytes = checkpoint
    md_type, md_bytes = metadata
    body_head = SEP.join((parent_id or "", cp_type, md_type, str(len(cp_bytes)), "")).encode()
    return b"".join((str(len(header)).encode(), b":", header, body_head, cp_bytes, md_bytes))


class _Record(NamedTuple):
    refs: list[tuple[bytes, bytes]]
    parent_id: str | None
    checkpoint: tuple[str, bytes]
    metadata: tuple[str, bytes]


def _decode_record(record: bytes) -> _Record:
    colon = record.index(b":")
    end = colon + 1 + int(record[:colon])
    tokens = record[colon + 1 : end].split(b"\0")
    parent, cp_type, md_type, cp_len, rest = record[end:].split(b"\0", 4)
    size = int(cp_len)
    return _Record(
        refs=list(zip(tokens[1::2], tokens[2::2], strict=True)),
        parent_id=parent.decode() or None,
        checkpoint=(cp_type.decode(), rest[:size]),
        metadata=(md_type.decode(), rest[size:]),
    )


class CheckpointHead(NamedTuple):
    """A checkpoint without its channel values: what ``RedisSaver.aget_head`` reads."""

    config: RunnableConfig
    metadata: CheckpointMetadata
    parent_config: RunnableConfig | None
    pending_writes: list[PendingWrite]


def decode_head(
    serde: SerializerProtocol, thread_id: str, reply: Sequence[Any], *, writes: bool = True
) -> CheckpointHead:
    """The READ_HEAD script's reply; its checkpoint and channel values are not decoded, nor
    its pending writes unless ``writes``."""
    member, record, write_fields, write_values = reply
    _, ns_b, id_b = member.split(b"\0", 2)
    ns = ns_b.decode()
    rec = _decode_record(record)
    return CheckpointHead(
        config=_config(thread_id, ns, id_b.decode()),
        metadata=serde.loads_typed(rec.metadata),
        parent_config=(
            _config(thread_id, ns, rec.parent_id) if rec.parent_id is not None else None
        ),
        pending_writes=_decode_writes(serde, write_fields, write_values) if writes else [],
    )


def _decode_writes(
    serde: SerializerProtocol, fields: Sequence[bytes], values: Sequence[bytes | bool | None]
) -> list[PendingWrite]:
    rows: list[tuple[tuple[str, str, int], PendingWrite]] = []
    for field, value in zip(fields, values, strict=True):
        if not isinstance(value, bytes):  # missing: nil over RESP2, false over RESP3
            continue
        _, _, _, task_id_b, idx_b = field.split(b"\0", 4)
        channel, task_path, type_, data = value.split(b"\0", 3)
        task_id = task_id_b.decode()
        key = writes_sort_key(task_path.decode(), task_id, int(idx_b))
        rows.append((key, (task_id, channel.decode(), serde.loads_typed((type_.decode(), data)))))
    rows.sort(key=lambda row: row[0])
    return [write for _, write in rows]


def decode_read(
    serde: SerializerProtocol,
    thread_id: str,
    reply: Sequence[Any],
    refs_seen: dict[tuple[str, str], bytes] | None = None,
    decoded: DecodedMessages | None = None,
) -> list[CheckpointTuple]:
    """Turn the READ script's reply into checkpoint tuples, in the reply's order.

    ``refs_seen`` collects what each (namespace, channel)'s reference list names (its
    segments and messages, packed), for the saver to know what a later put may leave out;
    ``decoded`` keeps the messages decoded (by default, for this reply alone).
    """
    entries, blob_fields, blob_values, message_fields, message_values = reply
    blobs: Mapping[bytes, bytes | bool | None] = dict(zip(blob_fields, blob_values, strict=True))
    stored: Mapping[bytes, bytes | bool | None] = dict(
        zip(message_fields, message_values, strict=True)
    )
    if decoded is None:
        decoded = DecodedMessages()
    tuples: list[CheckpointTuple] = []
    for member, record, write_fields, write_values in entries:
        _, ns_b, id_b = member.split(b"\0", 2)
        ns, checkpoint_id = ns_b.decode(), id_b.decode()
        rec = _decode_record(record)
        values: dict[str, Any] = {}
        for channel, version in rec.refs:
            raw = blobs.get(b"\0".join((b"b", ns_b, channel, version)))
            if not isinstance(raw, bytes):
                continue
            if messages.is_refs(raw):
                name = channel.decode()
                values[name], named = messages.decode_refs(serde, ns_b, raw, stored, decoded)
                if refs_seen is not None:
                    refs_seen[(ns, name)] = named
                continue
            type_, _, data = raw.partition(b"\0")
            if type_ != _EMPTY_TYPE:
                values[channel.decode()] = serde.loads_typed((type_.decode(), data))
        checkpoint: Checkpoint = serde.loads_typed(rec.checkpoint)
        checkpoint["channel_values"] = values
        metadata: CheckpointMetadata = serde.loads_typed(rec.metadata)
        tuples.append(
            CheckpointTuple(
                config=_config(thread_id, ns, checkpoint_id),
                checkpoint=checkpoint,
                metadata=metadata,
                parent_config=(
                    _config(thread_id, ns, rec.parent_id) if rec.parent_id is not None else None
                ),
                pending_writes=_decode_writes(serde, write_fields, write_values),
            )
        )
    return tuples


def _config(thread_id: str, ns: str, checkpoint_id: str) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }
