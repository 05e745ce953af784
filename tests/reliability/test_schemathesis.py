"""Schemathesis against a live server's OpenAPI document: no 5xx, responses as documented.

Requests go over a real socket to a server on the offline model (no upstream, no network
beyond loopback). The operations are collected from ``create_app().openapi()``, and a test pins
that this is exactly the document the live server serves at ``/openapi.json``.
(``schemathesis.pytest.from_fixture`` would load it from the live URL directly, but its lazy
loader sets ``Node._nodeid``, which pytest 9.2 no longer has.)
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import Settings, create_app
from tests.conftest import ServerFactory
from tests.identity.tokens import SECRET, hs256
from tests.support.live_server import LiveServer

TOKEN = f"Bearer {hs256('fuzz-user')}"

# Bounded and repeatable: a fixed seed, derandomized generation, no example database on disk.
# Three phases run per operation: the documented examples, coverage (boundary values, wrong
# types, other HTTP methods) and up to max-examples generated cases.
CONFIG: dict[str, Any] = {
    "seed": 20240605,
    "generation": {"max-examples": 30, "deterministic": True, "database": "none"},
    "request-timeout": 10,
}
OFFLINE: dict[str, Any] = {
    "openai_api_key": None,
    "redis_url": None,
    "api_keys": None,
    "offline_token_delay_ms": 0,
}
ERROR_ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"


def error_envelope(ctx: Any, response: Response, case: Case) -> None:
    """Every refusal, documented or not (405s included), carries the one error envelope."""
    if response.status_code < 400:
        return
    error = response.json().get("error")
    assert isinstance(error, dict), f"{response.status_code} without an error envelope"
    missing = {"code", "message", "requestId"} - set(error)
    assert not missing, f"{response.status_code} error envelope lacks {sorted(missing)}"


def stream_ends_with_final_or_error(ctx: Any, response: Response, case: Case) -> None:
    """A 200 from /stream is an SSE body whose last frame is ``final`` or ``error``."""
    if case.path != "/stream" or response.status_code != 200:
        return
    events = [line for line in response.text.splitlines() if line.startswith("event:")]
    assert events, "a 200 stream with no frames"
    assert events[-1] in ("event: final", "event: error"), f"the stream ended on {events[-1]!r}"


def started_run_streams_to_its_end(ctx: Any, response: Response, case: Case) -> None:
    """A 202 from /start names a streamUrl that streams the run to ``final`` or ``error``.

    Reading it to the end also keeps the run from working (and drawing on the global random
    state, as checkpointers do) while hypothesis generates the next case in this process."""
    if case.path != "/start" or response.status_code != 202:
        return
    origin = urlsplit(str(response.request.url))
    url = f"{origin.scheme}://{origin.netloc}{response.json()['streamUrl']}"
    body = httpx.get(url, timeout=10).text
    events = [line for line in body.splitlines() if line.startswith("event:")]
    assert events and events[-1] in ("event: final", "event: error"), events[-1:]


UNSENDABLE = (requests.exceptions.InvalidHeader, UnicodeEncodeError)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_envelope,
    stream_ends_with_final_or_error,
    started_run_streams_to_its_end,
]


def _document() -> dict[str, Any]:
    # Building the app runs no lifespan: no store is opened, no port is bound.
    return create_app(Settings(_env_file=None, **OFFLINE)).openapi()


schema = schemathesis.openapi.from_dict(_document(), config=SchemathesisConfig.from_dict(CONFIG))


@pytest.fixture
def offline_server(make_server: ServerFactory) -> LiveServer:
    return make_server(**OFFLINE)


def test_the_fuzzed_document_is_the_served_one(offline_server: LiveServer) -> None:
    """The live server serves at /openapi.json exactly the document the operations come from."""
    served = httpx.get(f"{offline_server.url}/openapi.json", timeout=10)
    assert served.status_code == 200
    assert served.json() == schema.raw_schema


def test_every_documented_error_is_the_error_envelope() -> None:
    """Each documented 4xx/5xx response is ErrorEnvelope, never FastAPI's HTTPValidationError."""
    wrong = []
    for path, operations in schema.raw_schema["paths"].items():
        for method, operation in operations.items():
            for status, documented in operation["responses"].items():
                if int(status) < 400:
                    continue
                body = documented.get("content", {}).get("application/json", {})
                if body.get("schema", {}).get("$ref") != ERROR_ENVELOPE_REF:
                    wrong.append(f"{method.upper()} {path} {status}")
    assert wrong == []


@schema.parametrize()
# One live server per operation serves every example of that operation, by design. And POST
# /api/chat's body (ids with a pattern, nested messages and parts) beside a patterned X-User-Id
# header makes hypothesis discard many drafts before it has one: slow generation, not a failure.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
def test_every_operation_answers_as_documented(case: Case, offline_server: LiveServer) -> None:
    """Generated requests to an operation get no 5xx and a documented status, type and body."""
    try:
        case.call_and_validate(base_url=offline_server.url, checks=CHECKS)
    except UNSENDABLE:
        # A header value no HTTP client can put on the wire (a control or non-Latin-1
        # character), generated to break a header's pattern: the server never sees it.
        return


@pytest.fixture
def authenticated_server(make_server: ServerFactory) -> LiveServer:
    return make_server(**{**OFFLINE, "jwt_secret": SECRET})


# The LangGraph API's operations run once, above: their user-token refusals are covered by
# tests/langgraph_api/test_users.py, and a second fuzzing pass would double their cost.
@schema.exclude(tag_regex="^langgraph").parametrize()
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
def test_every_operation_answers_as_documented_with_a_user_token(
    case: Case, authenticated_server: LiveServer
) -> None:
    """The same, on a server that requires credentials, with a valid user token: userIds that
    name someone else get their documented 403, nothing gets a 5xx."""
    case.call_and_validate(
        base_url=authenticated_server.url, checks=CHECKS, headers={"Authorization": TOKEN}
    )
