"""Chat models for graph nodes: ``ChatOpenAI`` against any OpenAI-compatible upstream, or the
offline model when no API key is configured.

Graph nodes ask a :class:`ChatModelFactory` for a model per call, so one graph serves both, and
the factory caches clients so that a turn never pays for building one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import httpx
from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from graphs.offline import OfflineChatModel

if TYPE_CHECKING:
    from graphs.fast_openai import FastChatOpenAI

__all__ = [
    "ChatModelFactory",
    "ModelConfig",
    "OfflineModels",
    "OpenAIModels",
    "Upstream",
    "model_factory",
]


@dataclass(frozen=True)
class ModelConfig:
    """What a node asks of its model on one call."""

    model: str
    temperature: float | None = None
    max_tokens: int | None = None


class ChatModelFactory(Protocol):
    """Gives a node a chat model for a :class:`ModelConfig`."""

    provider: str

    def __call__(self, config: ModelConfig) -> BaseChatModel: ...

    def describe(self) -> dict[str, object]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Upstream:
    """How to reach an OpenAI-compatible chat-completions server."""

    api_key: SecretStr | None = None
    base_url: str | None = None
    max_retries: int = 2
    timeout: float | None = 60.0
    offline_token_delay: float = 0.03


class OpenAIModels:
    """``ChatOpenAI(streaming=True)`` clients, one per distinct :class:`ModelConfig`.

    :class:`FastChatOpenAI` is ``ChatOpenAI`` with a cheaper token stream, and the pool runs on
    :class:`AsyncioTransport`; both keep ``ChatOpenAI``'s chunks, usage, errors and retries.
    """

    provider = "openai"

    def __init__(self, upstream: Upstream) -> None:
        # Imported here, not at the top: langchain_openai and its imports (tiktoken, the
        # legacy LLM classes) cost about 11 MB that a server on the offline model never uses.
        from graphs.fast_openai import FastChatOpenAI
        from graphs.transport import AsyncioTransport

        self._model_class: type[FastChatOpenAI] = FastChatOpenAI
        self._upstream = upstream
        self._cache: dict[ModelConfig, BaseChatModel] = {}
        # Our own pool, closed with the server: ChatOpenAI's default one is process-wide and
        # would outlive the event loop it was opened on.
        self._http = httpx.AsyncClient(
            timeout=upstream.timeout,
            transport=AsyncioTransport(
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=256)
            ),
        )

    def __call__(self, config: ModelConfig) -> BaseChatModel:
        model = self._cache.get(config)
        if model is None:
            model = self._model_class(
                model=config.model,
                temperature=config.temperature,
                max_completion_tokens=config.max_tokens,
                streaming=True,
                # Ask the upstream for token usage on the stream's last chunk.
                stream_usage=True,
                api_key=self._upstream.api_key,
                base_url=self._upstream.base_url,
                max_retries=self._upstream.max_retries,
                timeout=self._upstream.timeout,
                http_async_client=self._http,
            )
            self._cache[config] = model
        return model

    def describe(self) -> dict[str, object]:
        return {"provider": self.provider, "baseUrl": self._upstream.base_url or "default"}

    async def aclose(self) -> None:
        await self._http.aclose()


class OfflineModels:
    """The offline model, whatever model name a graph asks for."""

    provider = "offline"

    def __init__(self, token_delay: float = 0.03) -> None:
        self._model = OfflineChatModel(token_delay=token_delay)

    def __call__(self, config: ModelConfig) -> BaseChatModel:
        return self._model

    def describe(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "note": "no OPENAI_API_KEY is set: replies come from the built-in offline model",
        }

    async def aclose(self) -> None:
        return None


def model_factory(upstream: Upstream) -> ChatModelFactory:
    """OpenAI when an API key is configured, else the offline model."""
    if upstream.api_key is not None and upstream.api_key.get_secret_value():
        return OpenAIModels(upstream)
    return OfflineModels(token_delay=upstream.offline_token_delay)
