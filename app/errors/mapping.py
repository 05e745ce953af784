"""Maps what the model client and the checkpointers raise onto the server's errors, with
messages a user can act on."""

from __future__ import annotations

import sqlite3
import sys
from typing import NoReturn

import httpx
import openai

from app.errors import (
    AppError,
    StoreUnavailable,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)


def to_app_error(exc: BaseException, *, streaming: bool = False) -> AppError | None:
    """The :class:`AppError` for a failure during a turn, or ``None`` if it is a bug.

    ``streaming`` says the reply had started, so a lost connection means a cut-off stream.
    """
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, openai.AuthenticationError):
        return UpstreamAuthError(
            "The model provider rejected the API key (HTTP 401): check OPENAI_API_KEY."
        )
    if isinstance(exc, openai.PermissionDeniedError):
        return UpstreamAuthError(
            "The model provider refused this request (HTTP 403): the API key lacks access."
        )
    if isinstance(exc, openai.RateLimitError):
        return UpstreamRateLimited(
            "The model provider is rate-limiting requests (HTTP 429) and retries ran out; "
            "try again shortly."
        )
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return UpstreamTimeout("The model provider did not answer in time.")
    if isinstance(exc, openai.APIStatusError):
        return UpstreamError(
            f"The model provider answered HTTP {exc.status_code}: {_short(exc.message)}"
        )
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError) and streaming:
        return UpstreamError("The model provider's stream was cut off before the reply ended.")
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamError("The model provider could not be reached.")
    if isinstance(exc, httpx.TransportError):
        return UpstreamError("The model provider's stream was cut off before the reply ended.")
    if isinstance(exc, openai.OpenAIError):
        return UpstreamError(f"The model provider's reply could not be used: {_short(str(exc))}")
    # Looked up, not imported: a server without Redis never loads its client, and then no
    # exception can be one of its errors.
    saver_errors = sys.modules.get("redis_saver.errors")
    if saver_errors is not None and isinstance(exc, saver_errors.RedisSaverError):
        return StoreUnavailable(f"Redis, which holds thread memory, cannot be reached: {exc}")
    redis_errors = sys.modules.get("redis.exceptions")
    if redis_errors is not None and isinstance(
        exc, redis_errors.ConnectionError | redis_errors.TimeoutError
    ):
        return StoreUnavailable("Redis, which holds thread memory, cannot be reached.")
    if isinstance(exc, sqlite3.OperationalError):
        return StoreUnavailable(f"The SQLite thread store failed: {exc}")
    return None


def raise_mapped(exc: Exception, *, streaming: bool = False) -> NoReturn:
    """Raise the :class:`AppError` for ``exc``, or ``exc`` itself if it is a bug."""
    error = to_app_error(exc, streaming=streaming)
    if error is None:
        raise exc
    raise error from exc


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
