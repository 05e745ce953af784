"""In-process floors: the same upstream stream consumed without our server in the way.

Modes:

- ``raw``: httpx and ``orjson.loads`` of each ``data:`` line, nothing else;
- ``astream``: langchain's own ``ChatOpenAI.astream``, with the arguments the server gives it
  (``streaming``, ``stream_usage``, our httpx pool): the reference for added TTFT;
- ``fast``: ``model_client.fast_openai.FastChatOpenAI.astream`` over ``model_client.transport``;
- ``graph``: the streaming-chat graph's ``astream(stream_mode="messages")`` with the models
  the tree under test builds (``OpenAIModels``), no checkpointer.

Each run measures its own process (CPU, RSS) over the scenario, so "CPU per token" is what
the floor costs with its client included. Prints :class:`bench.load.Summary` as JSON, like
``bench.load``. Run alone:
``python -m bench.floors --mode astream --base-url http://127.0.0.1:9100/v1 -c 50``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from typing import Any

import httpx
import orjson
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from bench.load import (
    ProcessTree,
    StreamResult,
    Summary,
    add_reply_arguments,
    describe,
    drive,
    set_reply,
    use_uvloop,
)
from graphs import build_registry
from model_client import Upstream
from model_client.factory import OpenAIModels

PROMPT = "Tell me a story about a space explorer"
MODES = ("raw", "astream", "fast", "graph")


async def timed(texts: AsyncIterator[str]) -> StreamResult:
    """Time a stream of text deltas (empty ones are not tokens)."""
    result = StreamResult()
    start = last = time.perf_counter()
    try:
        async for text in texts:
            if not text:
                continue
            now = time.perf_counter()
            if result.ttft is None:
                result.ttft = now - start
            else:
                result.max_gap = max(result.max_gap, now - last)
            last = now
            result.tokens += 1
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        result.error = type(exc).__name__
    result.total = time.perf_counter() - start
    return result


def raw_stream(http: httpx.AsyncClient, base_url: str) -> Callable[[], AsyncIterator[str]]:
    body = orjson.dumps(
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": PROMPT}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )
    headers = {"authorization": "Bearer bench", "content-type": "application/json"}

    async def texts() -> AsyncIterator[str]:
        async with http.stream(
            "POST", f"{base_url}/chat/completions", content=body, headers=headers
        ) as response:
            response.raise_for_status()
            buffer = b""
            async for data in response.aiter_raw():
                events = (buffer + data).split(b"\n\n")
                buffer = events.pop()
                for event in events:
                    if not event.startswith(b"data: {"):
                        continue
                    choices = orjson.loads(event[6:])["choices"]
                    if choices:
                        yield choices[0]["delta"].get("content") or ""

    return texts


def model_stream(model: BaseChatModel) -> Callable[[], AsyncIterator[str]]:
    async def texts() -> AsyncIterator[str]:
        async for chunk in model.astream([HumanMessage(PROMPT)]):
            yield chunk.text

    return texts


def graph_stream(models: OpenAIModels) -> Callable[[], AsyncIterator[str]]:
    version = build_registry().resolve("streaming-chat::1.0.0")
    graph = version.build(models).compile(name=version.ref)
    settings = version.settings()

    async def texts() -> AsyncIterator[str]:
        stream: AsyncIterator[Any] = graph.astream(
            {"messages": [HumanMessage(PROMPT)]}, context=settings, stream_mode="messages"
        )
        async for chunk, _ in stream:
            if isinstance(chunk, AIMessageChunk):
                yield chunk.text

    return texts


def chat_model(mode: str, base_url: str, http: httpx.AsyncClient) -> BaseChatModel:
    """ChatOpenAI with the arguments the server gives it; ``fast``: FastChatOpenAI."""
    kwargs: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "streaming": True,
        "stream_usage": True,
        "api_key": SecretStr("bench"),
        "base_url": base_url,
        "max_retries": 2,
        "timeout": 300.0,
        "http_async_client": http,
    }
    if mode == "astream":
        return ChatOpenAI(**kwargs)
    from model_client.fast_openai import FastChatOpenAI

    return FastChatOpenAI(**kwargs)


async def run(
    mode: str,
    base_url: str,
    *,
    concurrency: int,
    requests: int,
    time_limit: float,
    ramp: float = 0.0,
    upstream: str | None = None,
    tokens: int = 200,
    delay_ms: float = 20.0,
    warmup: int = 0,
) -> Summary:
    models = OpenAIModels(
        Upstream(api_key=SecretStr("bench"), base_url=base_url, max_retries=2, timeout=300.0)
    )
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
    if mode == "fast":
        from model_client.transport import AsyncioTransport

        http = httpx.AsyncClient(timeout=300.0, transport=AsyncioTransport(limits=limits))
    else:
        http = httpx.AsyncClient(timeout=300.0, limits=limits)
    try:
        if mode == "raw":
            texts = raw_stream(http, base_url)
        elif mode in ("astream", "fast"):
            texts = model_stream(chat_model(mode, base_url, http))
        else:
            texts = graph_stream(models)
        one: Callable[[], Awaitable[StreamResult]] = lambda: timed(texts())  # noqa: E731
        if upstream:
            await set_reply(upstream, 20, 0)
            for _ in range(warmup):
                await one()
            await set_reply(upstream, tokens, delay_ms)
        return await drive(
            one,
            concurrency=concurrency,
            requests=requests,
            time_limit=time_limit,
            ramp=ramp,
            tree=ProcessTree(os.getpid()),
        )
    finally:
        await models.aclose()
        await http.aclose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mode", choices=MODES, default="astream")
    parser.add_argument("--base-url", required=True, help="the upstream's /v1 URL")
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("-n", "--requests", type=int, help="default: the concurrency")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--ramp", type=float, default=0.0, help="seconds to spread starts over")
    parser.add_argument("--json", action="store_true")
    add_reply_arguments(parser)
    args = parser.parse_args(argv)
    use_uvloop()
    summary = asyncio.run(
        run(
            args.mode,
            args.base_url,
            concurrency=args.concurrency,
            requests=args.requests or args.concurrency,
            time_limit=args.time_limit,
            ramp=args.ramp,
            upstream=args.upstream,
            tokens=args.tokens,
            delay_ms=args.delay_ms,
            warmup=args.warmup,
        )
    )
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(asdict(summary)) + b"\n")
    else:
        print(describe(summary))


if __name__ == "__main__":
    main()
