"""Chat models for graph nodes: ``ChatOpenAI`` against any OpenAI-compatible upstream, or the
offline model when no API key is configured.

Graph nodes ask a :class:`ModelFactory` for a model per call, so one graph serves both, and
the factory caches clients so that a turn never pays for building one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import httpx
from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from model_client.offline import OfflineChatModel

__all__ = [
    "ClientMode",
    "ModelFactory",
    "OfflineModels",
    "OpenAIModels",
    "Upstream",
    "model_factory",
]

ClientMode = Literal["fast", "stock"]


class ModelFactory(Protocol):
    """Gives a node a chat model (the graph contract's ``ChatModelFactory``), and tells the
    server what it is and how to close it."""

    provider: str

    def __call__(
        self, model: str, *, temperature: float | None = None, max_tokens: int | None = None
    ) -> BaseChatModel: ...

    def describe(self) -> dict[str, object]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Upstream:
    """How to reach an OpenAI-compatible chat-completions server, and with which client."""

    api_key: SecretStr | None = None
    base_url: str | None = None
    max_retries: int = 2
    timeout: float | None = 60.0
    offline_token_delay: float = 0.03
    # fast: FastChatOpenAI on AsyncioTransport; stock: langchain's ChatOpenAI on httpx's own
    # transport, for when a dependency bump breaks what the fast path relies on.
    client: ClientMode = "fast"


class OpenAIModels:
    """``ChatOpenAI(streaming=True)`` clients, one per distinct model request.

    In ``fast`` mode the clients are :class:`~model_client.fast_openai.FastChatOpenAI`, which
    is ``ChatOpenAI`` with a cheaper token stream, and their pool runs on
    :class:`~model_client.transport.AsyncioTransport`; both keep ``ChatOpenAI``'s chunks,
    usage, errors and retries. In ``stock`` mode they are langchain's own.
    """

    provider = "openai"

    def __init__(self, upstream: Upstream) -> None:
        # Imported here, not at the top: langchain_openai and its imports (tiktoken, the
        # legacy LLM classes) cost about 11 MB that a server on the offline model never uses.
        from langchain_openai import ChatOpenAI

        limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
        self._model_class: type[ChatOpenAI] = ChatOpenAI
        if upstream.client == "fast":
            from model_client.fast_openai import FastChatOpenAI
            from model_client.transport import AsyncioTransport

            self._model_class = FastChatOpenAI
            transport: httpx.AsyncBaseTransport = AsyncioTransport(limits=limits)
        else:
            transport = httpx.AsyncHTTPTransport(limits=limits)
        self._upstream = upstream
        self._cache: dict[tuple[str, float | None, int | None], BaseChatModel] = {}
        # Our own pool, closed with the server: ChatOpenAI's default one is process-wide and
        # would outlive the event loop it was opened on.
        self._http = httpx.AsyncClient(timeout=upstream.timeout, transport=transport)

    def __call__(
        self, model: str, *, temperature: float | None = None, max_tokens: int | None = None
    ) -> BaseChatModel:
        key = (model, temperature, max_tokens)
        chat_model = self._cache.get(key)
        if chat_model is None:
            chat_model = self._model_class(
                model=model,
                temperature=temperature,
                max_completion_tokens=max_tokens,
                streaming=True,
                # Ask the upstream for token usage on the stream's last chunk.
                stream_usage=True,
                api_key=self._upstream.api_key,
                base_url=self._upstream.base_url,
                max_retries=self._upstream.max_retries,
                timeout=self._upstream.timeout,
                http_async_client=self._http,
            )
            self._cache[key] = chat_model
        return chat_model

    def describe(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "baseUrl": self._upstream.base_url or "default",
            "client": self._upstream.client,
        }

    async def aclose(self) -> None:
        await self._http.aclose()


class OfflineModels:
    """The offline model, whatever model name a graph asks for."""

    provider = "offline"

    def __init__(self, token_delay: float = 0.03) -> None:
        self._model = OfflineChatModel(token_delay=token_delay, streaming=True)

    def __call__(
        self, model: str, *, temperature: float | None = None, max_tokens: int | None = None
    ) -> BaseChatModel:
        return self._model

    def describe(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "note": "no OPENAI_API_KEY is set: replies come from the built-in offline model",
        }

    async def aclose(self) -> None:
        return None


def model_factory(upstream: Upstream) -> ModelFactory:
    """OpenAI when an API key is configured, else the offline model."""
    if upstream.api_key is not None and upstream.api_key.get_secret_value():
        return OpenAIModels(upstream)
    return OfflineModels(token_delay=upstream.offline_token_delay)
