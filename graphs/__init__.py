"""Graph authors' room: the registry, the graph contract, shared settings pieces, and one
package per graph with one module per version.

Nothing here imports ``app`` or a model client: graphs receive a :class:`ChatModelFactory`
through their builder, and the server asks :func:`build_registry` for what exists.
"""

from graphs.catalog import build_registry
from graphs.contract import (
    Builder,
    ChatModelFactory,
    Conversation,
    GraphVersion,
    StepLimitExceeded,
    idempotency_key,
)
from graphs.registry import Registry, RegistryError, UnknownGraph
from graphs.settings import GraphSettings, ModelSettings
from graphs.versions import InvalidReference, Reference, Version

__all__ = [
    "Builder",
    "ChatModelFactory",
    "Conversation",
    "GraphSettings",
    "GraphVersion",
    "InvalidReference",
    "ModelSettings",
    "Reference",
    "Registry",
    "RegistryError",
    "StepLimitExceeded",
    "UnknownGraph",
    "Version",
    "build_registry",
    "idempotency_key",
]
