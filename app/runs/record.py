"""A run's spec as the bytes its in-flight record holds, and back: what another replica needs
to start the run again (its thread, input or command, graph version and settings, user, the
API it came from and how that API shows it).

The graph input (messages, a ``Command``) is written by the checkpointer's own serializer, so
it comes back as the same objects, message ids included; the rest is JSON. A record names its
graph by ``name::version``: a replica that does not serve that version cannot take it over.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import orjson
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from app.runs.spec import RunSpec
from graphs import GraphVersion

_SERDE = JsonPlusSerializer()
FORMAT = 1

# Plain fields, written and read as they are.
_PLAIN = (
    "request_id",
    "thread_id",
    "user_id",
    "reply_after",
    "resuming",
    "agent_id",
    "subgraphs",
    "interrupt_before",
    "interrupt_after",
    "durability",
    "checkpoint",
    "configurable",
    "metadata",
    "wire",
    "wire_context",
    "assistant_id",
    "multitask_strategy",
    "on_disconnect",
    "ephemeral",
)


class RecordUnreadable(Exception):
    """A record this replica cannot start again (another format, or a graph it lacks)."""


def _typed(value: Any) -> list[str]:
    kind, blob = _SERDE.dumps_typed(value)
    return [kind, base64.b64encode(blob).decode()]


def _untyped(pair: list[str]) -> Any:
    return _SERDE.loads_typed((pair[0], base64.b64decode(pair[1])))


def dump_spec(spec: RunSpec) -> bytes:
    fields: dict[str, Any] = {name: getattr(spec, name) for name in _PLAIN}
    fields.update(
        format=FORMAT,
        graph=spec.graph.ref,
        settings=spec.settings.model_dump(mode="json", by_alias=True, exclude_unset=True),
        input=_typed(spec.input),
        input_messages=_typed(list(spec.input_messages)),
        graph_modes=sorted(spec.graph_modes),
        stream_modes=list(spec.stream_modes),
    )
    return orjson.dumps(fields)


def load_spec(record: bytes, resolve: Callable[[str], GraphVersion], *, attempt: int) -> RunSpec:
    """The spec ``record`` holds, as its ``attempt``-th start; RecordUnreadable if it cannot be
    started here."""
    try:
        fields = orjson.loads(record)
        if fields.get("format") != FORMAT:
            raise RecordUnreadable(f"run record format {fields.get('format')!r}")
        graph = resolve(fields["graph"])
        settings = graph.settings.model_validate(fields["settings"])
        plain = {name: fields[name] for name in _PLAIN}
        for name in ("interrupt_before", "interrupt_after"):
            if isinstance(plain[name], list):
                plain[name] = tuple(plain[name])
        return RunSpec(
            graph=graph,
            settings=settings,
            input=_untyped(fields["input"]),
            input_messages=tuple(_untyped(fields["input_messages"])),
            graph_modes=frozenset(fields["graph_modes"]),
            stream_modes=tuple(fields["stream_modes"]),
            received=time.perf_counter(),
            attempt=attempt,
            **plain,
        )
    except RecordUnreadable:
        raise
    except Exception as exc:
        raise RecordUnreadable(f"{type(exc).__name__}: {exc}") from exc
