"""One error hierarchy for the server.

Every failure the server reports is an :class:`AppError` (or is mapped onto one) and travels as
one envelope: ``{"error": {"code", "message", "requestId"}}`` before the first byte of a
response, or as an ``event: error`` frame with the same fields once a stream has started.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    """Base of every error the server reports to a client."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def headers(self) -> dict[str, str]:
        """Response headers the refusal needs (``Retry-After``, ``WWW-Authenticate``)."""
        return {}

    def payload(self, request_id: str | None) -> dict[str, Any]:
        """The envelope's inside, as an ``event: error`` frame carries it."""
        return error_body(self.code, self.message, request_id, self.details)

    def envelope(self, request_id: str | None) -> dict[str, Any]:
        """The one envelope, as a response before the first byte carries it."""
        return {"error": self.payload(request_id)}


def error_body(
    code: str, message: str, request_id: str | None, details: Any = None, **extra: Any
) -> dict[str, Any]:
    """``{"code", "message", "requestId"}`` (and ``details`` when there are some)."""
    body: dict[str, Any] = {"code": code, "message": message, "requestId": request_id, **extra}
    if details is not None:
        body["details"] = details
    return body


def envelope(code: str, message: str, request_id: str | None, **extra: Any) -> dict[str, Any]:
    """The one error envelope: ``{"error": {"code", "message", "requestId"}}``."""
    return {"error": error_body(code, message, request_id, **extra)}


class UnsupportedMediaType(AppError):
    """A body that is not JSON (``curl -d`` without a ``Content-Type`` sends a form)."""

    status = 415
    code = "unsupported_media_type"


class ValidationFailed(AppError):
    status = 422
    code = "validation_error"


class GraphNotFound(AppError):
    status = 404
    code = "graph_not_found"


class ThreadNotFound(AppError):
    status = 404
    code = "thread_not_found"


class RunNotFound(AppError):
    status = 404
    code = "run_not_found"


class ThreadGraphMismatch(AppError):
    status = 409
    code = "thread_graph_mismatch"


class ThreadBusy(AppError):
    status = 409
    code = "thread_busy"

    @classmethod
    def running(cls, thread_id: str, request_id: str | None) -> ThreadBusy:
        """Busy with ``request_id``, which the client may rejoin instead of waiting."""
        if request_id is None:
            return cls(f"thread {thread_id!r} is answering another request; try again when it ends")
        return cls(
            f"thread {thread_id!r} is answering request {request_id!r}; rejoin it with "
            f"GET /stream/{request_id}, or try again when it ends",
            details={"requestId": request_id},
        )


class DuplicateRequest(AppError):
    """The requestId is running already: a client's retry must not run a turn twice."""

    status = 409
    code = "duplicate_request"


class NoPendingInterrupt(AppError):
    """``resume`` on a thread whose graph is not waiting for an answer."""

    status = 409
    code = "no_pending_interrupt"


class InterruptPending(AppError):
    """A new ``message`` on a thread whose graph is waiting for an answer to an interrupt."""

    status = 409
    code = "interrupt_pending"


class MaxStepsExceeded(AppError):
    """The graph's step budget for the turn ran out (``graphSettings.maxSteps``)."""

    status = 422
    code = "max_steps"


class UpstreamError(AppError):
    """The model provider failed (bad key, rate limit, 5xx, dropped stream)."""

    status = 502
    code = "upstream_error"


class UpstreamAuthError(UpstreamError):
    code = "upstream_auth_error"


class UpstreamRateLimited(UpstreamError):
    code = "upstream_rate_limited"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class StoreUnavailable(AppError):
    """The checkpointer's backing store (Redis, SQLite) cannot be reached."""

    status = 503
    code = "store_unavailable"


class ServerShutdown(AppError):
    """The server stopped before the reply ended (SIGTERM past the grace period)."""

    status = 503
    code = "server_shutdown"


class AssistantNotFound(AppError):
    status = 404
    code = "assistant_not_found"


class ThreadExists(AppError):
    """``POST /threads`` with the id of a thread that exists, and ``if_exists: raise``."""

    status = 409
    code = "thread_exists"


class AssistantsReadOnly(AppError):
    """Assistants are the registry's graph versions: they are not made or changed by API."""

    status = 405
    code = "assistants_read_only"

    def __init__(self, allow: str) -> None:
        super().__init__(
            "Assistants are this server's registered graph versions: they are added and changed "
            "in code (graphs/), not through the API. Read them with GET, or search them."
        )
        self._allow = allow

    def headers(self) -> dict[str, str]:
        return {"Allow": self._allow}


class RunLost(AppError):
    """The replica running the run went away before it ended."""

    status = 503
    code = "run_lost"


class Unauthenticated(AppError):
    """No credential, or one the server does not accept."""

    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class UserMismatch(AppError):
    """A user's credential naming another user."""

    status = 403
    code = "user_mismatch"
