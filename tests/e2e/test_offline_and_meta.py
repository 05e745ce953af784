"""Offline mode (no API key) and the server's own endpoints."""

from __future__ import annotations

import httpx

from bench.openai_standin import OpenAIStandIn
from tests.conftest import ServerFactory
from tests.e2e.bodies import SEED_STREAM, turn
from tests.support.sse import stream


async def test_offline_model_streams_and_says_so(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """Without OPENAI_API_KEY the offline model streams word by word and counts turns."""
    server = make_server(openai_api_key=None, offline_token_delay_ms=0)
    async with httpx.AsyncClient(base_url=server.url) as client:
        health = (await client.get("/health")).json()
        first = await stream(client, turn("hello there"))
        second = await stream(client, turn("and again"))

    assert health["model"]["provider"] == "offline"
    assert "OPENAI_API_KEY" in health["model"]["note"]
    assert len(first.chunks) > 5
    assert "turn 1 of this thread" in first.final["text"]
    assert "turn 2 of this thread" in second.final["text"]
    assert '"and again"' in second.final["text"]
    meta = second.final["metadata"]
    assert (meta["model"], meta["provider"], meta["finishReason"]) == ("offline", "offline", "stop")
    assert meta["usage"]["outputTokens"] > 0
    assert upstream.seen == []  # nothing left the machine


async def test_health_and_ready_name_model_and_checkpointer(client: httpx.AsyncClient) -> None:
    """/health names the provider and checkpointer; /ready is 200 when memory is reachable."""
    health = (await client.get("/health")).json()
    assert health == {
        "status": "ok",
        "model": {"provider": "openai", "baseUrl": health["model"]["baseUrl"], "client": "fast"},
        "checkpointer": "sqlite",
    }
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checkpointer": "sqlite"}


async def test_graph_types_lists_versions_defaults_and_schemas(client: httpx.AsyncClient) -> None:
    """/graph-types lists each graph's versions, its default and each settings schema."""
    body = (await client.get("/graph-types")).json()
    [graph] = body["graphs"]
    assert graph["name"] == "streaming-chat"
    assert graph["default"] == "1.1.0"
    versions = {v["version"]: v for v in graph["versions"]}
    assert set(versions) == {"1.0.0", "1.1.0"}
    assert versions["1.1.0"]["default"] is True
    v1 = versions["1.0.0"]["settingsSchema"]
    assert {"model", "temperature", "maxTokens", "systemPrompt"} == set(v1["properties"])
    assert v1["additionalProperties"] is False
    assert versions["1.1.0"]["settingsSchema"]["properties"]["style"]["enum"] == [
        "neutral",
        "concise",
        "friendly",
        "pirate",
    ]


async def test_openapi_documents_the_seed_bodies(client: httpx.AsyncClient) -> None:
    """/docs is served and the OpenAPI schema carries the seed's body as an example."""
    assert (await client.get("/docs")).status_code == 200
    spec = (await client.get("/openapi.json")).json()
    assert {"/stream", "/generate", "/health", "/ready", "/graph-types"} <= set(spec["paths"])
    schema = spec["components"]["schemas"]["ChatRequest"]
    assert schema["examples"] == [SEED_STREAM]
