"""The chat-model client the server hands to graphs: ``ChatOpenAI`` (or its fast variant)
against any OpenAI-compatible server, or an offline model when no API key is set.

A library-like package: it imports nothing from ``app`` or ``graphs``. The third-party
private APIs that the fast path relies on are listed, with why, in :mod:`model_client._private`.
"""

from model_client.factory import (
    ClientMode,
    ModelFactory,
    OfflineModels,
    OpenAIModels,
    Upstream,
    model_factory,
)

__all__ = [
    "ClientMode",
    "ModelFactory",
    "OfflineModels",
    "OpenAIModels",
    "Upstream",
    "model_factory",
]
