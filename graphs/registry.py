"""The graph registry: every graph version, resolved from ``name::semver`` references."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from langgraph.graph import StateGraph
from pydantic import BaseModel, ConfigDict

from graphs.models import ChatModelFactory
from graphs.versions import InvalidReference, Reference, Version

__all__ = ["GraphSettings", "GraphVersion", "InvalidReference", "Registry", "UnknownGraph"]


class GraphSettings(BaseModel):
    """Base of every version's settings: camelCase on the wire, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class UnknownGraph(LookupError):
    """No registered graph or version matches a reference; the message lists what exists."""

    def __init__(self, message: str, available: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.available = available


Builder = Callable[[ChatModelFactory], StateGraph[Any, Any, Any, Any]]


@dataclass(frozen=True)
class GraphVersion:
    """One version of one graph: its settings model and how to build its ``StateGraph``."""

    name: str
    version: Version
    settings: type[GraphSettings]
    build: Builder = field(compare=False)
    description: str = ""
    default: bool = False
    # The node whose message is the reply: a cancelled turn's partial reply is saved as its.
    reply_node: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}::{self.version}"


class Registry:
    """Graph versions by name; resolves exact versions, ``^``/``~`` ranges and bare names."""

    def __init__(self) -> None:
        self._graphs: dict[str, dict[Version, GraphVersion]] = {}

    def register(self, graph: GraphVersion) -> GraphVersion:
        versions = self._graphs.setdefault(graph.name, {})
        if graph.version in versions:
            raise ValueError(f"{graph.ref} is registered twice")
        if graph.default and any(v.default for v in versions.values()):
            raise ValueError(f"{graph.name} has more than one default version")
        versions[graph.version] = graph
        return graph

    def __iter__(self) -> Iterator[GraphVersion]:
        for name in sorted(self._graphs):
            yield from self.versions(name)

    def versions(self, name: str) -> list[GraphVersion]:
        """Every version of ``name``, oldest first."""
        return [v for _, v in sorted(self._graphs.get(name, {}).items())]

    def default(self, name: str) -> GraphVersion:
        versions = self.versions(name)
        if not versions:
            raise self._unknown(f"unknown graph {name!r}")
        marked = [v for v in versions if v.default]
        return marked[0] if marked else versions[-1]

    def resolve(self, reference: str) -> GraphVersion:
        """The version a reference selects; raises InvalidReference or UnknownGraph."""
        ref = Reference.parse(reference)
        if ref.name not in self._graphs:
            raise self._unknown(f"unknown graph {ref.name!r}")
        if ref.operator == "*":
            return self.default(ref.name)
        matches = [v for v in self.versions(ref.name) if ref.accepts(v.version)]
        if not matches:
            known = ", ".join(str(v.version) for v in self.versions(ref.name))
            raise self._unknown(f"no version of {ref.name!r} matches {str(ref)!r} (known: {known})")
        return matches[-1]

    def available(self) -> dict[str, list[str]]:
        return {
            name: [str(v.version) for v in self.versions(name)] for name in sorted(self._graphs)
        }

    def _unknown(self, message: str) -> UnknownGraph:
        listing = "; ".join(f"{n}: {', '.join(vs)}" for n, vs in self.available().items())
        return UnknownGraph(f"{message}. Available graphs: {listing or 'none'}", self.available())
