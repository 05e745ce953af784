"""Where a streamed token's CPU goes: each layer of the server, in process, on one upstream.

Every layer reads the same stand-in stream (another process, ``--upstream``) with ``-c``
concurrent streams and reports this process's CPU time per token, best of ``--rounds``:

- ``raw``: httpx + orjson; ``raw-asyncio``: the same over
  ``model_client.transport.AsyncioTransport``;
- ``model``: the chat model the server builds (``OpenAIModels``), ``astream``;
- ``graph``: the streaming-chat graph, ``astream(stream_mode="messages")``, no checkpointer;
- ``turns``: ``RunExecutor.run`` as the server runs it (SQLite checkpointer in a temp dir);
- ``asgi``: the whole app called as ASGI (``POST /stream``), everything but uvicorn and sockets.

The difference between two rows is what a layer costs. Run:
``python -m bench.layers --upstream http://127.0.0.1:9100 -c 50`` against
``python -m bench.openai_standin --port 9100 --tokens 200 --delay-ms 20`` on another core.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx
import orjson
from langchain_core.messages import AIMessageChunk, HumanMessage
from pydantic import SecretStr

from bench.load import use_uvloop

LAYERS = ("raw", "raw-asyncio", "model", "graph", "turns", "asgi")
PROMPT = "Tell me a story about a space explorer"
One = Callable[[], Awaitable[int]]


async def measure(one: One, concurrency: int, rounds: int) -> tuple[float, int]:
    """Best CPU microseconds per token over ``rounds`` of ``concurrency`` streams."""
    best, tokens = float("inf"), 0
    for _ in range(rounds):
        cpu = time.process_time()
        tokens = sum(await asyncio.gather(*(one() for _ in range(concurrency))))
        if tokens:
            best = min(best, (time.process_time() - cpu) / tokens * 1e6)
    return best, tokens


def raw(http: httpx.AsyncClient, base_url: str) -> One:
    body = orjson.dumps(
        {
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": PROMPT}],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )

    async def one() -> int:
        tokens, buffer = 0, b""
        async with http.stream(
            "POST",
            f"{base_url}/chat/completions",
            content=body,
            headers={"content-type": "application/json", "authorization": "Bearer bench"},
        ) as response:
            async for data in response.aiter_raw():
                events = (buffer + data).split(b"\n\n")
                buffer = events.pop()
                for event in events:
                    if event.startswith(b"data: {"):
                        choices = orjson.loads(event[6:])["choices"]
                        if choices and choices[0]["delta"].get("content"):
                            tokens += 1
        return tokens

    return one


async def count_chunks(stream: AsyncIterator[Any]) -> int:
    tokens = 0
    async for item in stream:
        chunk = item[0] if isinstance(item, tuple) else item
        if isinstance(chunk, AIMessageChunk) and chunk.content:
            tokens += 1
    return tokens


async def asgi_stream(app: Any) -> int:
    """``POST /stream`` through the ASGI app; counts chunk frames."""
    body = orjson.dumps({"message": {"content": PROMPT}})
    done = asyncio.get_running_loop().create_future()
    sent = [False]
    tokens = 0

    async def receive() -> dict[str, Any]:
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal tokens
        if message["type"] == "http.response.body":
            tokens += message.get("body", b"").count(b"event: stream_event")
            if not message.get("more_body", False) and not done.done():
                done.set_result(None)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/stream",
        "raw_path": b"/stream",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return tokens


async def run(
    upstream: str, layers: list[str], concurrency: int, rounds: int, gc_mode: str = "default"
) -> list[str]:
    base_url = f"{upstream}/v1"
    os.environ.update(OPENAI_API_KEY="bench", OPENAI_BASE_URL=base_url)
    for name in ("REDIS_URL", "API_KEYS"):
        os.environ.pop(name, None)
    from graphs import build_registry
    from model_client import Upstream
    from model_client.factory import OpenAIModels
    from model_client.transport import AsyncioTransport

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=256)
    rows: list[str] = []
    async with AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        os.environ["SQLITE_PATH"] = os.path.join(tmp, "checkpoints.sqlite")
        models = OpenAIModels(
            Upstream(api_key=SecretStr("bench"), base_url=base_url, timeout=300.0)
        )
        stack.push_async_callback(models.aclose)
        version = build_registry().resolve("streaming-chat::1.0.0")
        model = models("gpt-4o-mini")
        ones: dict[str, Callable[[], One]] = {}

        def _raw() -> One:
            http = httpx.AsyncClient(timeout=300.0, limits=limits)
            stack.push_async_callback(http.aclose)
            return raw(http, base_url)

        def _raw_asyncio() -> One:
            http = httpx.AsyncClient(timeout=300.0, transport=AsyncioTransport(limits=limits))
            stack.push_async_callback(http.aclose)
            return raw(http, base_url)

        def _model() -> One:
            return lambda: count_chunks(model.astream([HumanMessage(PROMPT)]))

        def _graph() -> One:
            graph = version.build(models).compile(name=version.ref)
            settings = version.settings()
            return lambda: count_chunks(
                graph.astream(
                    {"messages": [HumanMessage(PROMPT)]}, context=settings, stream_mode="messages"
                )
            )

        app: Any = None

        async def _app() -> Any:
            nonlocal app
            if app is None:
                from app import Settings, create_app

                app = create_app(Settings(_env_file=None, log_level="warning"))
                await stack.enter_async_context(app.router.lifespan_context(app))
            return app

        async def _turns() -> One:
            from app.api.chat.schemas import ChatRequest

            services = (await _app()).state.services
            runner = services.runs.runner

            async def one() -> int:
                body = ChatRequest.model_validate({"message": {"content": PROMPT}})
                spec = services.binder.bind(body, uuid.uuid4().hex, "bench")
                texts: list[str] = []
                await runner.run(spec, texts.append)
                return len(texts)

            return one

        async def _asgi() -> One:
            application = await _app()
            return lambda: asgi_stream(application)

        ones = {"raw": _raw, "raw-asyncio": _raw_asyncio, "model": _model, "graph": _graph}
        previous: float | None = None
        for layer in layers:
            if layer == "turns":
                one = await _turns()
            elif layer == "asgi":
                one = await _asgi()
            else:
                one = ones[layer]()
            await measure(one, min(concurrency, 4), 1)  # warm up: imports, connections
            if gc_mode == "freeze":
                gc.collect()
                gc.freeze()
            elif gc_mode == "off":
                gc.disable()
            cost, tokens = await measure(one, concurrency, rounds)
            delta = "" if previous is None else f"{cost - previous:+.1f}"
            rows.append(f"| {layer} | {cost:.1f} | {delta} | {tokens} |")
            previous = cost
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--upstream", required=True, help="the stand-in's root URL")
    parser.add_argument("--layers", default=",".join(LAYERS))
    parser.add_argument("-c", "--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--gc",
        choices=["default", "freeze", "off"],
        default="default",
        help="freeze: gc.freeze() after the warm-up; off: no cyclic GC at all (measure only)",
    )
    parser.add_argument(
        "--gc-threshold", help="gc.set_threshold(...) before measuring, e.g. 10000,20,20"
    )
    args = parser.parse_args(argv)
    layers = [layer.strip() for layer in args.layers.split(",") if layer.strip()]
    if bad := [layer for layer in layers if layer not in LAYERS]:
        parser.error(f"unknown layers: {', '.join(bad)}")
    if args.gc_threshold:
        gc.set_threshold(*(int(v) for v in args.gc_threshold.split(",")))
    use_uvloop()
    rows = asyncio.run(run(args.upstream, layers, args.concurrency, args.rounds, args.gc))
    print(f"{args.concurrency} concurrent streams, CPU of this process, best of {args.rounds}\n")
    print("| layer | CPU us/token | vs previous | tokens/round |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
