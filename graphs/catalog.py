"""Every graph version the server offers. Adding a version: its module, and one line here.

Each line names a module that defines ``GRAPH``, a :class:`~graphs.contract.GraphVersion`.
"""

from __future__ import annotations

from importlib import import_module

from graphs.contract import GraphVersion
from graphs.registry import Registry

VERSIONS = (
    "graphs.streaming_chat.v1_0_0",
    "graphs.streaming_chat.v1_1_0",
    "graphs.tool_agent.v1_0_0",
)


def load_version(module: str) -> GraphVersion:
    """The ``GRAPH`` that ``module`` defines."""
    graph = getattr(import_module(module), "GRAPH", None)
    if not isinstance(graph, GraphVersion):
        raise TypeError(f"{module} must define GRAPH, a GraphVersion")
    return graph


def build_registry(modules: tuple[str, ...] = VERSIONS) -> Registry:
    """A registry of the versions ``modules`` define; raises RegistryError if inconsistent."""
    registry = Registry()
    for module in modules:
        registry.register(load_version(module))
    registry.check()
    return registry
