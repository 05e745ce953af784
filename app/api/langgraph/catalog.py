"""The registry's graph versions as LangGraph assistants.

Each version is an assistant, and each graph has a default assistant that follows its default
version (``graph_id`` is the graph's name). Their ids are UUIDv5s of fixed names, the same on
every replica and after every restart: a graph's default assistant has the id ``langgraph-api``
gives a graph of that name, and a version's is derived from its reference (``name::version``).
Wherever the API takes an assistant id, the graph's name, a reference, or the graph id that
``langgraph.json`` gives the version (``name-version``, what ``langgraph dev`` serves) do too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphs import GraphVersion, Registry

# The namespace langgraph-api derives its graphs' default assistant ids from.
NAMESPACE_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
# Versions are registered in code: their assistants date from no database, so from this.
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC).isoformat()


@dataclass(frozen=True)
class Assistant:
    assistant_id: str
    name: str
    graph: GraphVersion
    default: bool  # the graph's default assistant, following its default version

    def payload(self) -> dict[str, Any]:
        """As langgraph-api's ``Assistant`` schema."""
        return {
            "assistant_id": self.assistant_id,
            "graph_id": self.graph.name,
            "name": self.name,
            "description": self.graph.description or None,
            "config": {},
            "context": {},
            "metadata": {
                "created_by": "system",
                "version": str(self.graph.version),
                "graph_type": self.graph.ref,
                "default": self.default,
            },
            "version": 1,
            "created_at": _EPOCH,
            "updated_at": _EPOCH,
        }


def default_assistant_id(graph_name: str) -> str:
    return str(uuid.uuid5(NAMESPACE_GRAPH, graph_name))


class Assistants:
    """Every assistant of ``registry``: a default per graph, then one per version."""

    def __init__(self, registry: Registry) -> None:
        self._all: list[Assistant] = []
        self._by_key: dict[str, Assistant] = {}
        names = sorted({v.name for v in registry})
        for name in names:
            version = registry.default(name)
            default = Assistant(default_assistant_id(name), name, version, True)
            self._add(default, default.assistant_id, name)
        for version in sorted(registry, key=lambda v: (v.name, v.version)):
            ref = version.ref
            assistant = Assistant(str(uuid.uuid5(NAMESPACE_GRAPH, ref)), ref, version, False)
            self._add(assistant, assistant.assistant_id, ref, f"{version.name}-{version.version}")

    def _add(self, assistant: Assistant, *keys: str) -> None:
        self._all.append(assistant)
        for key in keys:
            self._by_key[key] = assistant

    def __iter__(self) -> Iterator[Assistant]:
        return iter(self._all)

    def get(self, key: str) -> Assistant | None:
        """The assistant with id ``key``, or named by a graph name, reference or Studio id."""
        return self._by_key.get(key)

    def default_of(self, version: GraphVersion) -> str:
        return default_assistant_id(version.name)
