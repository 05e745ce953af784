"""POST /generate: the whole reply as the JSON that the final frame carries."""

from __future__ import annotations

import httpx

from bench.openai_standin import OpenAIStandIn, Reply
from tests.e2e.bodies import SEED_GENERATE


async def test_seed_generate_body_answers_the_final_json(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """The seed's /generate curl body gets 200 with text, attachments and metadata."""
    response = await client.post("/generate", json=SEED_GENERATE)

    assert response.status_code == 200
    body = response.json()
    assert body["text"] == "".join(Reply().words())
    assert body["attachments"] == []
    meta = body["metadata"]
    assert meta["requestId"] == "req-002"
    assert meta["graphType"] == "streaming-chat::1.0.0"
    assert meta["finishReason"] == "stop"
    assert meta["usage"]["outputTokens"] == 12
    # The model client streams upstream even here, so usage and timings are the same as /stream.
    assert upstream.seen[-1].body["stream"] is True
    assert meta["timings"]["ttftMs"] is not None


async def test_generate_upstream_failure_is_502_with_the_envelope(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """An upstream 500 answers 502 with code, message and the request id."""
    upstream.enqueue(Reply(status=500))
    response = await client.post("/generate", json=SEED_GENERATE)

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "upstream_error"
    assert "500" in error["message"]
    assert error["requestId"] == "req-002"


async def test_generate_cut_stream_is_502(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """A stream dropped mid-way answers 502 saying it was cut off."""
    upstream.enqueue(Reply(drop_after=3))
    response = await client.post("/generate", json=SEED_GENERATE)

    assert response.status_code == 502
    assert "cut off" in response.json()["error"]["message"]
