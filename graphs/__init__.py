"""Graph authors' room: the registry and one package per graph, one module per version.

Nothing here imports ``app``; the server asks :func:`build_registry` for what exists.
"""

from graphs.catalog import build_registry
from graphs.models import ChatModelFactory, ModelConfig, Upstream, model_factory
from graphs.registry import GraphSettings, GraphVersion, Registry, UnknownGraph
from graphs.versions import InvalidReference, Reference, Version

__all__ = [
    "ChatModelFactory",
    "GraphSettings",
    "GraphVersion",
    "InvalidReference",
    "ModelConfig",
    "Reference",
    "Registry",
    "UnknownGraph",
    "Upstream",
    "Version",
    "build_registry",
    "model_factory",
]
