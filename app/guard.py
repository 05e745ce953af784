"""One pure-ASGI middleware in front of every request: API keys, body size, request counts.

Pure ASGI rather than ``BaseHTTPMiddleware``, which would wrap streaming bodies in extra tasks
and queues; this one only looks at the scope and, for the body limit, at ``receive``.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import Metrics

# Liveness must answer without credentials; the playground page and assets carry no data
# (every API call the page makes needs the key like any other client's).
_OPEN_PATHS = ("/health",)
_OPEN_PREFIXES = ("/static/",)


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        api_keys: Sequence[str] = (),
        max_body_bytes: int = 1 << 20,
        open_paths: Sequence[str] = (),
    ) -> None:
        self.app = app
        self._metrics = metrics
        self._keys = [k.encode() for k in api_keys]
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
            refusal = self._refuse(scope)
            if refusal is not None:
                await _error(counted_send, *refusal)
                return
            receive = await self._limit_body(scope, receive, counted_send)
            if receive is _REFUSED:
                return
            await self.app(scope, receive, counted_send)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self._metrics.requests.labels(scope["method"], path, str(status)).inc()

    def _refuse(self, scope: Scope) -> tuple[int, str, str, dict[str, str]] | None:
        if not self._keys or scope["method"] == "OPTIONS":
            return None
        path: str = scope["path"]
        if path in self._open or path.startswith(_OPEN_PREFIXES) or path == "/":
            return None
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = token.strip()
                break
        # Compare with every key, whatever matches, so timing says nothing about which.
        ok = False
        for key in self._keys:
            ok |= hmac.compare_digest(given, key)
        if ok:
            return None
        return (
            401,
            "unauthorized",
            "Send a valid API key as 'Authorization: Bearer <key>'.",
            {"www-authenticate": "Bearer"},
        )

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


async def _refused() -> Message:  # pragma: no cover - a marker, never called
    return {"type": "http.disconnect"}


_REFUSED: Receive = _refused


async def _error(send: Send, status: int, code: str, message: str, headers: dict[str, str]) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message, "requestId": None}})
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
