"""The stand-in's ``tools_then_text`` default reply, as the tool-agent benchmark uses it: one
reply serves concurrent agent turns, each with one tool round and then its answer."""

from __future__ import annotations

import asyncio

import httpx

from bench.openai_standin import OpenAIStandIn, Reply, ToolCall
from tests.conftest import ServerFactory
from tests.support.registries import agent_registry
from tests.support.sse import stream


async def test_tools_then_text_serves_concurrent_turns_one_tool_round_each(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """Three turns at once on one default reply: each calls calculator once with its own call
    id, then answers with the text alone; the stand-in counts one user and one tool request each."""
    upstream.default = Reply(
        tokens=["It ", "is ", "391."],
        tool_calls=[ToolCall("calculator", {"expression": "17*23"})],
        tools_then_text=True,
    )
    server = make_server(registry=agent_registry())
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        results = await asyncio.gather(
            *(
                stream(
                    client,
                    {
                        "threadId": f"turn-{i}",
                        "graphType": "tool-agent",
                        "message": {"content": "What is 17*23?"},
                    },
                )
                for i in range(3)
            )
        )

    ids = set()
    for result in results:
        steps = result.final["metadata"]["steps"]
        assert [(s["name"], s["output"], s["status"]) for s in steps] == [
            ("calculator", "391", "success")
        ]
        ids.add(steps[0]["id"])
        assert result.final["text"] == "It is 391." == "".join(result.chunks)
    assert len(ids) == 3
    assert upstream.last_roles == {"user": 3, "tool": 3}
