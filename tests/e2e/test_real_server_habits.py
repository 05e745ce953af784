"""The stand-in keeps the habits of real OpenAI-compatible servers, and the server copes."""

from __future__ import annotations

import httpx
import orjson

from bench.openai_standin import OpenAIStandIn, Reply
from tests.e2e.bodies import turn
from tests.support.sse import stream


async def test_stand_in_stream_has_the_habits_of_real_servers(upstream: OpenAIStandIn) -> None:
    """Role-only first delta, unknown fields, a usage chunk with no choices and timings."""
    upstream.enqueue(Reply(tokens=["Hi", "!"]))
    request = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{upstream.base_url}/chat/completions", json=request)
    events = [
        orjson.loads(line.removeprefix("data: "))
        for line in response.text.splitlines()
        if line.startswith("data: {")
    ]

    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    assert all("obfuscation" in event for event in events)
    assert events[-1]["choices"] == []
    assert events[-1]["usage"]["completion_tokens"] == 2
    assert "timings" in events[-1]
    assert response.text.rstrip().endswith("data: [DONE]")


async def test_final_model_is_the_name_the_upstream_serves(
    client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """When the upstream answers under an alias, final.metadata.model reports the alias."""
    upstream.served_model = "SmolLM2-135M-Instruct"
    result = await stream(client, turn("hi"))

    assert upstream.seen[-1].body["model"] == "gpt-4o-mini"
    assert result.final["metadata"]["model"] == "SmolLM2-135M-Instruct"
    assert result.final["text"] == "".join(result.chunks) == "".join(Reply().words())
    assert result.final["metadata"]["usage"]["outputTokens"] == 12
