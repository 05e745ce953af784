"""JSON the server cannot keep is refused as it arrives, on every route, and the rest is kept
exactly.

Before bodies were decoded strictly, an integer beyond 64 bits in a thread's metadata passed
validation and failed as a 500 when the record was written (schemathesis found it in CI).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.wire.json import loads
from tests.e2e.bodies import turn

JSON = {"content-type": "application/json"}

UNKEEPABLE = [
    pytest.param(b"123456789012345678901234567890", "64-bit", id="integer-above-64-bits"),
    pytest.param(b"18446744073709551616", "64-bit", id="2**64"),
    pytest.param(b"-9223372036854775809", "64-bit", id="below-int64"),
    pytest.param(b'"\\ud800"', "surrogate", id="lone-surrogate"),
    pytest.param(b"NaN", "unexpected character", id="nan"),
    pytest.param(b"Infinity", "unexpected character", id="infinity"),
    pytest.param(b"1e400", "infinity", id="float-overflow"),
    pytest.param(b"[" * 5000 + b"]" * 5000, "depth", id="nested-5000-deep"),
    pytest.param(b"[" * 100 + b"]" * 100, "100 levels", id="nested-101-deep"),
]


def _refused(response: httpx.Response, reason: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith("body: the request body is not JSON this server accepts")
    assert reason in error["message"]


@pytest.mark.parametrize(("value", "reason"), UNKEEPABLE)
async def test_langgraph_thread_metadata_the_server_cannot_keep_is_422(
    client: httpx.AsyncClient, value: bytes, reason: str
) -> None:
    body = b'{"thread_id": "kept-1", "metadata": {"x": ' + value + b"}}"
    _refused(await client.post("/threads", content=body, headers=JSON), reason)
    # Nothing was written: the same thread is created afterwards with a value it can keep.
    created = await client.post("/threads", json={"thread_id": "kept-1", "metadata": {"x": 1}})
    assert created.status_code == 200, created.text
    assert created.json()["metadata"]["x"] == 1


@pytest.mark.parametrize(("value", "reason"), UNKEEPABLE)
async def test_seed_bodies_the_server_cannot_keep_are_422(
    client: httpx.AsyncClient, value: bytes, reason: str
) -> None:
    body = b'{"threadId": "t-1", "userId": "u-1", "message": {"content": "hi", "x": ' + value
    _refused(await client.post("/stream", content=body + b"}}", headers=JSON), reason)
    response = await client.post("/generate", json=turn("hi"))
    assert response.status_code == 200, response.text


async def test_values_at_the_edges_are_kept_exactly(client: httpx.AsyncClient) -> None:
    metadata: dict[str, Any] = {
        "uint64_max": 2**64 - 1,
        "int64_min": -(2**63),
        "digits_in_a_string": "1234567890123456789012345",
        "long_float": 12345678901234567890.5,
        "emoji_as_a_surrogate_pair": "\U0001f680",
        "nul": "a\x00b",
    }
    created = await client.post("/threads", json={"metadata": metadata})
    assert created.status_code == 200, created.text
    read = await client.get(f"/threads/{created.json()['thread_id']}")
    kept = read.json()["metadata"]
    assert {name: kept[name] for name in metadata} == metadata


async def test_every_operation_with_a_body_decodes_it_strictly(client: httpx.AsyncClient) -> None:
    """A router made without ``route_class=JSONRoute`` would take bodies it cannot keep."""
    document = (await client.get("/openapi.json")).json()
    operations = [
        (method, re.sub(r"\{[^}]+\}", "x", path))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    assert {("post", "/stream"), ("post", "/threads"), ("post", "/threads/x/runs/stream")} <= set(
        operations
    )
    for method, path in operations:
        response = await client.request(method, path, content=b'{"x": "\\ud800"}', headers=JSON)
        _refused(response, "surrogate")


def test_long_digits_in_strings_and_floats_are_not_refused() -> None:
    body = b'{"id": "12345678901234567890", "f": 1234567890123456789.25, "n": 9223372036854775807}'
    assert loads(body) == {
        "id": "12345678901234567890",
        "f": 1234567890123456789.25,
        "n": 2**63 - 1,
    }
