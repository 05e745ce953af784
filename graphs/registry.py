"""The graph registry: every graph version, resolved from ``name::semver`` references."""

from __future__ import annotations

from collections.abc import Iterator

from graphs.contract import GraphVersion
from graphs.versions import Reference, Version

__all__ = ["Registry", "RegistryError", "UnknownGraph"]


class RegistryError(ValueError):
    """The registry is inconsistent: a version twice, two defaults, or no default to pick."""


class UnknownGraph(LookupError):
    """No registered graph or version matches a reference; the message lists what exists."""

    def __init__(self, message: str, available: dict[str, list[str]]) -> None:
        super().__init__(message)
        self.available = available


class Registry:
    """Graph versions by name; resolves exact versions, ``^``/``~`` ranges and bare names.

    A bare name selects the graph's default version: the one marked ``default=True``, or the
    only version there is. A graph with several versions must mark one, so that registering a
    newer version never moves the clients that ask for the bare name.
    """

    def __init__(self) -> None:
        self._graphs: dict[str, dict[Version, GraphVersion]] = {}

    def register(self, graph: GraphVersion) -> GraphVersion:
        versions = self._graphs.setdefault(graph.name, {})
        if graph.version in versions:
            raise RegistryError(f"{graph.ref} is registered twice")
        if graph.default and any(v.default for v in versions.values()):
            raise RegistryError(f"{graph.name} has more than one default version")
        versions[graph.version] = graph
        return graph

    def check(self) -> None:
        """Raise :class:`RegistryError` unless every graph has a default version to offer."""
        for name in self._graphs:
            self.default(name)

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
        if marked:
            return marked[0]
        if len(versions) == 1:
            return versions[0]
        listed = ", ".join(str(v.version) for v in versions)
        raise RegistryError(
            f"graph {name!r} has several versions ({listed}) and none is marked default: pass "
            "default=True to the GraphVersion that a bare name should select"
        )

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
