"""One pure-ASGI middleware in front of every request: who is asking (the principal, from the
credential; see ``app.auth.credentials``), body size, request counts.

Pure ASGI rather than ``BaseHTTPMiddleware``, which would wrap streaming bodies in extra tasks
and queues; this one only looks at the scope and, for the body limit, at ``receive``.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.credentials import Authenticator
from app.auth.principal import OPEN, Principal
from app.errors import Unauthenticated, envelope
from app.observability.metrics import Metrics

# Liveness must answer without credentials; the playground page and assets carry no data
# (every API call the page makes needs the key like any other client's). /ok is the LangGraph
# API's liveness.
_OPEN_PATHS = ("/health", "/ok")
_OPEN_PREFIXES = ("/static/",)


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        authenticator: Authenticator | None = None,
        max_body_bytes: int = 1 << 20,
        open_paths: Sequence[str] = (),
    ) -> None:
        self.app = app
        self._metrics = metrics
        self._auth = authenticator if authenticator is not None else Authenticator()
        self._max_body = max_body_bytes
        self._open = set(_OPEN_PATHS) | set(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def counted_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            try:
                principal = await self._principal(scope)
            except Unauthenticated as exc:
                await _error(
                    counted_send, exc.status, exc.code, exc.message, {"www-authenticate": "Bearer"}
                )
                return
            scope.setdefault("state", {})["principal"] = principal
            receive = await self._limit_body(scope, receive, counted_send)
            if receive is _REFUSED:
                return
            await self.app(scope, receive, counted_send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self._metrics.requests.labels(scope["method"], path, str(status)).inc()

    async def _principal(self, scope: Scope) -> Principal | None:
        """The request's principal; ``None`` where no credential is needed (or it travels as
        a stream's access token, which the route checks)."""
        path: str = scope["path"]
        if not self._auth.enabled:
            return OPEN
        if scope["method"] == "OPTIONS":
            return None
        if path in self._open or path.startswith(_OPEN_PREFIXES) or path == "/":
            return None
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
                break
            if name == b"x-api-key" and authorization is None:
                # LangGraph's SDKs send their api_key so: the same credential, as a bearer.
                authorization = b"Bearer " + value
        if authorization is None and _stream_access(scope):
            return None
        return await self._auth.authenticate(authorization)

    async def _limit_body(self, scope: Scope, receive: Receive, send: Send) -> Receive:
        if scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            return receive
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self._max_body or declared < 0:
                    await _error(send, *self._too_large())
                    return _REFUSED
                return receive
        # No Content-Length (chunked): read up to the limit, then replay what was read.
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self._max_body:
                await _error(send, *self._too_large())
                return _REFUSED
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        return replay

    def _too_large(self) -> tuple[int, str, str, dict[str, str]]:
        return (
            413,
            "payload_too_large",
            f"The request body is larger than {self._max_body} bytes.",
            {},
        )


def _stream_access(scope: Scope) -> bool:
    """A GET /stream/{id} that carries POST /start's access token, as EventSource does."""
    if scope["method"] != "GET" or not scope["path"].startswith("/stream/"):
        return False
    return "access" in parse_qs(scope.get("query_string", b"").decode("latin-1"))


async def _refused() -> Message:  # pragma: no cover - a marker, never called
    return {"type": "http.disconnect"}


_REFUSED: Receive = _refused


async def _error(send: Send, status: int, code: str, message: str, headers: dict[str, str]) -> None:
    body = orjson.dumps(envelope(code, message, None))
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
