"""streaming-chat against a real model: llama.cpp's own server running SmolLM2-135M-Instruct.

The stand-in proves that we agree with ourselves; this proves that we agree with a real
OpenAI-compatible server (role-only first delta, ``timings`` on chunks, a usage chunk with
``"choices": []``, ``model`` echoing the served alias). Replies are short and greedy
(temperature 0) so the module stays well under a minute on one thread.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
from langchain_core.messages import HumanMessage

from scripts.local_model import MODEL_ALIAS
from tests.support.chat_models import model_pair, raw_sse_server
from tests.support.llama_server import LlamaServer
from tests.support.sse import frames, stream

MAX_TOKENS = 16


def _body(thread: str, content: str, max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    return {
        "threadId": thread,
        "userId": "real-user",
        "graphType": "streaming-chat",
        "graphSettings": {
            "graphType": "streaming-chat::1.0.0",
            "temperature": 0,
            "maxTokens": max_tokens,
        },
        "message": {"content": content},
    }


def _check_usage(usage: dict[str, int], max_tokens: int = MAX_TOKENS) -> None:
    assert usage["inputTokens"] > 0
    assert 0 < usage["outputTokens"] <= max_tokens
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


async def _until(predicate: Any, limit: float = 15.0) -> None:
    for _ in range(int(limit / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


async def test_stream_final_text_is_the_chunks_with_usage(
    client: httpx.AsyncClient, llama: LlamaServer
) -> None:
    """A streamed reply's chunks make final.text; usage matches what the model server counted."""
    predicted = llama.metric("tokens_predicted_total")
    result = await stream(client, _body("rm-stream", "Name three colours."))

    assert result.status == 200
    assert [f.event for f in result.frames][-1] == "final"
    assert len(result.chunks) >= 2
    final = result.final
    assert final["text"] == "".join(result.chunks)
    assert final["text"].strip()
    meta = final["metadata"]
    assert meta["provider"] == "openai"
    assert meta["model"] == MODEL_ALIAS  # the graph asked for gpt-4o-mini; llama.cpp says who
    assert meta["finishReason"] in ("stop", "length")
    _check_usage(meta["usage"])
    assert llama.metric("tokens_predicted_total") - predicted == meta["usage"]["outputTokens"]


async def test_generate_answers_and_the_thread_keeps_the_exchange(
    client: httpx.AsyncClient,
) -> None:
    """POST /generate returns the whole reply as JSON, and the thread holds both messages."""
    response = await client.post("/generate", json=_body("rm-generate", "Say hello."))

    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["text"].strip()
    assert reply["metadata"]["model"] == MODEL_ALIAS
    assert reply["metadata"]["finishReason"] in ("stop", "length")
    _check_usage(reply["metadata"]["usage"])
    history = await client.get("/threads/rm-generate/messages", params={"userId": "real-user"})
    assert [(m["role"], m["content"]) for m in history.json()["messages"]] == [
        ("user", "Say hello."),
        ("assistant", reply["text"]),
    ]


async def test_thread_memory_reaches_the_model(client: httpx.AsyncClient) -> None:
    """Turn 2's prompt holds turn 1's question and reply: longer than both together."""
    first = await stream(client, _body("rm-memory", "My name is Ada."))
    second = await stream(client, _body("rm-memory", "What is my name?"))

    one, two = first.final["metadata"]["usage"], second.final["metadata"]["usage"]
    assert second.final["text"] == "".join(second.chunks)
    assert two["inputTokens"] > one["inputTokens"] + one["outputTokens"]


async def test_client_disconnect_closes_the_upstream_request(
    client: httpx.AsyncClient, llama: LlamaServer
) -> None:
    """A client that leaves mid-reply makes llama.cpp cancel the request and free its slot."""
    cancelled = llama.cancelled_tasks()
    predicted = llama.metric("tokens_predicted_total")
    body = _body("rm-leave", "Count from one to one hundred, one number a line.", 200)
    async with client.stream("POST", "/stream", json=body) as response:
        seen = 0
        async for frame in frames(response):
            assert frame.event == "stream_event"
            seen += 1
            if seen == 3:
                break  # leaves: closes the connection with the reply under way

    await _until(lambda: llama.cancelled_tasks() > cancelled and llama.busy_slots() == 0)
    assert llama.metric("tokens_predicted_total") - predicted < 200


async def test_two_concurrent_streams_are_decoded_together(client: httpx.AsyncClient) -> None:
    """Two threads stream at once; each reply arrives whole while the other is still going."""
    a, b = await asyncio.gather(
        stream(client, _body("rm-a", "Describe the sea.", 24)),
        stream(client, _body("rm-b", "Describe a forest.", 24)),
    )

    for result in (a, b):
        assert result.final["text"] == "".join(result.chunks)
        _check_usage(result.final["metadata"]["usage"], 24)
    first_a, first_b = a.frames[0].received, b.frames[0].received
    assert first_a < b.frames[-1].received
    assert first_b < a.frames[-1].received


async def test_model_client_reads_llama_cpp_as_chat_openai_does(llama: LlamaServer) -> None:
    """llama.cpp's own bytes, replayed, give FastChatOpenAI exactly ChatOpenAI's chunks."""
    request = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Name a fruit."}],
        "max_tokens": 8,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    async with httpx.AsyncClient(timeout=30) as http:
        raw = (await http.post(f"{llama.base_url}/chat/completions", json=request)).content
    events = [
        orjson.loads(line.removeprefix(b"data: "))
        for line in raw.splitlines()
        if line.startswith(b"data: {")
    ]
    # The habits bench/openai_standin.py copies; if llama.cpp drops one, the stand-in may too.
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    assert events[-1]["choices"] == []
    assert {"usage", "timings"} <= events[-1].keys()
    assert {event["model"] for event in events} == {MODEL_ALIAS}

    server, base_url = await raw_sse_server(raw)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            reference, fast = model_pair(base_url, http, max_retries=0)
            expected = [c.model_dump() async for c in reference.astream([HumanMessage("hi")])]
            got = [c.model_dump() async for c in fast.astream([HumanMessage("hi")])]
    finally:
        server.close()
    for chunk in (*expected, *got):
        chunk.pop("id")  # a fresh run id per call
    assert got == expected
    usage = [c["usage_metadata"] for c in got if c["usage_metadata"]]
    assert [u["output_tokens"] for u in usage] == [events[-1]["usage"]["completion_tokens"]]
    assert any(c["response_metadata"].get("model_name") == MODEL_ALIAS for c in got)


async def test_a_prompt_beyond_the_context_is_an_upstream_error(client: httpx.AsyncClient) -> None:
    """llama.cpp's refusal of a too-long prompt reaches the client as 502 upstream_error."""
    response = await client.post("/generate", json=_body("rm-long", "word " * 1500))

    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == "upstream_error"
    assert "context size" in error["message"]
