"""JSON on the wire: request bodies decoded as strictly as they are later stored, and responses
rendered with orjson (FastAPI's own ORJSONResponse is deprecated).

Starlette decodes a JSON body with :func:`json.loads`, which takes more than the server can
keep: ``NaN`` and ``Infinity``, lone surrogates (``"\\ud800"``), integers of any size, and
nesting deeper than orjson writes (or until Python's stack runs out). Each of those passed
validation and failed later, as a 500, when orjson wrote the value into a thread record, a run
log or a stream frame. Here a body is decoded with orjson, which refuses most of them with a
:class:`json.JSONDecodeError` (so FastAPI answers its usual 422); an integer outside the 64
bits orjson writes is refused too, rather than read as a float as orjson would, and so is a
body nested deeper than :data:`MAX_DEPTH`.

Every router of the app is made with ``route_class=JSONRoute`` (FastAPI's documented way to
give routes their own request class); tests/e2e/test_json_bodies.py checks that none is missed.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from app.errors import UnsupportedMediaType

# orjson reads an integer literal outside [-2**63, 2**64) as a float; every such literal has
# at least 19 digits, so a body without a run of 19 digits cannot hold one.
_LONG_DIGITS = re.compile(rb"\d{19}")
_INT_MIN, _INT_END = -(2**63), 2**64

# orjson writes at most 254 levels; stored and streamed values sit a few levels below the body's
# root (a record, a frame), so bodies keep well clear of that.
MAX_DEPTH = 100


def loads(body: bytes) -> Any:
    """The body's JSON value; :class:`json.JSONDecodeError` when the server could not keep it."""
    value = orjson.loads(body)
    if _LONG_DIGITS.search(body) is not None:
        # Rare: decode again, exactly, to tell long integers from long strings and floats.
        json.loads(body, parse_int=lambda text: _int64(text, body))
    # Only a body with that many brackets can be nested that deep: most are never walked.
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _deeper_than(value, MAX_DEPTH):
        raise json.JSONDecodeError(
            f"the body is nested more than {MAX_DEPTH} levels deep", body.decode(), 0
        )
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    level: list[Any] = [value]
    for _ in range(limit):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return any(isinstance(item, dict | list) for item in level)


def _int64(text: str, body: bytes) -> int:
    number = int(text)
    if not _INT_MIN <= number < _INT_END:
        shown = text if len(text) <= 24 else f"{text[:21]}..."
        raise json.JSONDecodeError(
            f"the integer {shown} is outside the 64-bit range this server stores",
            body.decode(),
            body.find(text.encode()),
        )
    return number


class JSONRequest(Request):
    async def json(self) -> Any:
        # FastAPI decodes a body once, before the endpoint runs; body() is cached by Starlette.
        return loads(await self.body())


def _refuse_other_media(request: Request) -> None:
    """A body sent as anything but JSON is a 415 that says what to send: FastAPI would read a
    form (curl's default for ``-d``) as no body at all, a 422 that never names the cause."""
    given = request.headers.get("content-type")
    if given is None:
        return  # FastAPI reads a body without a media type as JSON
    media = given.partition(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        return
    raise UnsupportedMediaType(
        f"the body must be JSON, sent with 'Content-Type: application/json' (this request's "
        f"is {given[:100]!r}); with curl, add -H 'Content-Type: application/json'"
    )


class JSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        takes_body = self.body_field is not None

        async def strict(request: Request) -> Response:
            if takes_body:
                _refuse_other_media(request)
            return await handler(JSONRequest(request.scope, request.receive))

        return strict


def default(value: Any) -> Any:
    """What orjson cannot serialise by itself: messages and other pydantic models, and the
    rest of what graph states and events hold."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def dumps(value: Any) -> bytes:
    """The one JSON encoding of what the server sends: bodies, frames and records alike."""
    return orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS)


class JSONResponse(Response):
    """The one JSON response of every route."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
