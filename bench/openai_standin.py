"""A stand-in for the OpenAI chat-completions API: a real HTTP/1.1 server on loopback.

``ChatOpenAI`` talks to it exactly as to the vendor (streamed chunks, a usage chunk, ``[DONE]``,
non-streamed replies), so the client's real code runs. It keeps the habits of real servers
(llama.cpp's, checked against it in tests/real_model): the first delta carries only the role,
every chunk has a field the SDK does not know, the usage chunk has ``"choices": []`` and
``timings``, and ``served_model`` makes ``model`` echo an alias instead of the name asked for.

Tests script faults per request (HTTP 401/429/500 before the stream, a connection dropped
mid-stream, slow tokens), read back what each request carried, and learn when a client closed a
stream early. A reply with ``tools_then_text`` plays one agent turn per conversation (its tool
calls for the user's message, its text for the tool results), so a single default reply serves
any number of concurrent agent turns, as benchmarks need.

Written on raw asyncio streams rather than a web framework so that, in benchmarks, the stand-in
costs as little CPU as it can and does not blur the figures of the server under test.

Run alone: ``python -m bench.openai_standin --port 9100 --tokens 200 --delay-ms 20``; add
``--tool-call '{"name": "calculator", "arguments": {"expression": "17*23"}}'`` to play agent
turns. ``PUT /_bench/reply`` (Reply fields as JSON) changes the default reply, and
``GET /_bench/stats`` counts the requests served by the role of their last message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import secrets
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

STORY = (
    "Once upon a time a space explorer charted the quiet edge of the galaxy and found a small "
    "blue world that sang back when she spoke to it"
)


@dataclass
class ToolCall:
    """A tool call the stand-in's reply makes; ``arguments`` as a dict or raw JSON text."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None  # None: call_<n>

    def json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return orjson.dumps(self.arguments).decode()


# How tool calls are streamed, as different vendors do:
# - "pieces": id, type and name on the first delta of each call, then the arguments in a few
#   pieces (OpenAI); each delta keyed by index, the id only on the first;
# - "whole": one delta per call carrying id, name and all of its arguments;
# - "no_index": like "pieces" but with no "index" at all (one call per message).
ToolStyle = str


@dataclass
class Reply:
    """How the stand-in answers one request."""

    tokens: list[str] | None = None  # None: ``token_count`` words from WORDS
    token_count: int = 12
    delay: float = 0.0  # seconds before each token
    first_delay: float = 0.0  # extra seconds before the first token
    status: int = 200  # anything else is returned as an error before the stream starts
    error_message: str = "stand-in error"
    drop_after: int | None = None  # close the connection after this many tokens
    finish_reason: str | None = None  # None: "tool_calls" when it calls tools, else "stop"
    tool_calls: list[ToolCall] = field(default_factory=list)  # after the text tokens
    tool_style: ToolStyle = "pieces"
    # Sent first as "reasoning_content" and "reasoning" deltas, which a client must ignore.
    reasoning: str | None = None
    # With tool_calls: the calls alone answer a request whose last message is the user's, the
    # text alone answers any other (a tool result): one tool round per turn, then the answer.
    tools_then_text: bool = False

    def answering(self, body: dict[str, Any]) -> Reply:
        """What this reply sends to a request with ``body``."""
        if not (self.tools_then_text and self.tool_calls):
            return self
        if last_role(body) != "user":
            return replace(self, tool_calls=[], tools_then_text=False)
        # Ids unique across turns, as a vendor's are (call_0 in every thread would do too).
        turn = secrets.token_hex(6)
        calls = [
            replace(call, id=call.id or f"call_{turn}_{i}")
            for i, call in enumerate(self.tool_calls)
        ]
        return replace(self, tokens=[], tool_calls=calls, tools_then_text=False)

    def finish(self) -> str:
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"

    def tool_call_ids(self) -> list[str]:
        return [call.id or f"call_{i}" for i, call in enumerate(self.tool_calls)]

    def words(self) -> list[str]:
        if self.tokens is not None:
            return self.tokens
        return [
            f"{w} "
            for w, _ in zip(itertools.cycle(STORY.split()), range(self.token_count), strict=False)
        ]


@dataclass
class Seen:
    """What one request carried, and how its response ended."""

    body: dict[str, Any]
    tokens_sent: int = 0
    closed_by_client: bool = False
    finished: bool = False

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))


@dataclass
class OpenAIStandIn:
    """The server; ``start()``/``stop()`` on an event loop, or ``running()`` in a thread."""

    host: str = "127.0.0.1"
    port: int = 0
    default: Reply = field(default_factory=Reply)
    script: deque[Reply] = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    served_model: str | None = None  # the name replies carry; None echoes the one asked for
    # Requests served, by the role of their last message (kept when ``seen`` is cleared).
    last_roles: Counter[str] = field(default_factory=Counter)
    _server: asyncio.Server | None = None
    _connections: set[asyncio.Task[None]] = field(default_factory=set)
    _ids: Iterator[int] = field(default_factory=itertools.count)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def enqueue(self, *replies: Reply) -> None:
        """The next requests get these replies, in order; later ones get ``default``."""
        self.script.extend(replies)

    def reset(self) -> None:
        self.script.clear()
        self.seen.clear()
        self.default = Reply()
        self.served_model = None
        self.last_roles.clear()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, backlog=2048)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._connections):
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    @contextlib.contextmanager
    def running(self) -> Iterator[OpenAIStandIn]:
        """Serve from a background thread with its own event loop."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()

        thread = threading.Thread(target=serve, name="openai-standin", daemon=True)
        thread.start()
        if not ready.wait(10):
            raise RuntimeError("the OpenAI stand-in did not start")
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(5)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (h.partition(":") for h in header_lines if h)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                method, path, _ = request_line.split(" ", 2)
                keep_open = await self._respond(method, path, body, writer)
                if not keep_open or headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            # stop() cancels open connections; ending quietly keeps asyncio's stream callback
            # (which asks a cancelled task for its exception on 3.11) from logging noise.
            pass
        finally:
            self._connections.discard(task)
            writer.transport.abort()

    async def _respond(
        self, method: str, path: str, raw: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        if method != "POST" or not path.rstrip("/").endswith("/chat/completions"):
            await _send_json(writer, 404, {"error": {"message": f"no route {method} {path}"}})
            return True
        body = orjson.loads(raw or b"{}")
        seen = Seen(body)
        self.seen.append(seen)
        self.last_roles[last_role(body)] += 1
        reply = (self.script.popleft() if self.script else self.default).answering(body)
        if reply.status != 200:
            error = {"message": reply.error_message, "type": "stand_in", "code": reply.status}
            await _send_json(writer, reply.status, {"error": error})
            return True
        if not body.get("stream"):
            await self._complete(body, reply, writer)
            seen.finished = True
            return True
        return await self._stream(body, reply, seen, writer)

    async def _complete(self, body: dict[str, Any], reply: Reply, writer: Any) -> None:
        words = reply.words()
        await asyncio.sleep(reply.first_delay + reply.delay * len(words))
        await _send_json(
            writer,
            200,
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self._model(body),
                "choices": [
                    {
                        "index": 0,
                        "message": {
                            "role": "assistant",
                            "content": "".join(words),
                            **(
                                {
                                    "tool_calls": [
                                        {
                                            "id": call_id,
                                            "type": "function",
                                            "function": {
                                                "name": call.name,
                                                "arguments": call.json(),
                                            },
                                        }
                                        for call, call_id in zip(
                                            reply.tool_calls, reply.tool_call_ids(), strict=True
                                        )
                                    ]
                                }
                                if reply.tool_calls
                                else {}
                            ),
                        },
                        "finish_reason": reply.finish(),
                    }
                ],
                "usage": _usage(body, words),
                "timings": _timings(words),
            },
        )

    async def _stream(
        self, body: dict[str, Any], reply: Reply, seen: Seen, writer: asyncio.StreamWriter
    ) -> bool:
        words = reply.words()
        # "obfuscation" is a field the SDK's chunk model does not declare (OpenAI pads chunks
        # with it); a client must carry unknown fields without tripping on them.
        head = (
            b'{"id":"chatcmpl-%d","object":"chat.completion.chunk","created":%d,"model":%s,'
            b'"system_fingerprint":null,"obfuscation":"s7","choices":'
            % (next(self._ids), int(time.time()), orjson.dumps(self._model(body)))
        )
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\nconnection: keep-alive\r\n\r\n"
        )

        def event(choices: bytes, extra: bytes = b"") -> bytes:
            data = b"data: " + head + choices + extra + b"}\n\n"
            return b"%x\r\n%s\r\n" % (len(data), data)

        try:
            # As llama.cpp starts: the role alone, its content null.
            writer.write(
                event(
                    b'[{"index":0,"delta":{"role":"assistant","content":null},'
                    b'"finish_reason":null}]'
                )
            )
            await writer.drain()
            if reply.first_delay:
                await asyncio.sleep(reply.first_delay)
            if reply.reasoning:
                for field_name in (b"reasoning_content", b"reasoning"):
                    delta = b'{"%s":%s}' % (field_name, orjson.dumps(reply.reasoning))
                    writer.write(event(b'[{"index":0,"delta":%s,"finish_reason":null}]' % delta))
            for i, word in enumerate(words):
                if reply.drop_after is not None and i >= reply.drop_after:
                    # Cut mid-stream: no final chunk, no [DONE], connection gone.
                    writer.transport.abort()
                    return False
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                delta = b'{"content":%s}' % orjson.dumps(word)
                writer.write(event(b'[{"index":0,"delta":%s,"finish_reason":null}]' % delta))
                await writer.drain()
                seen.tokens_sent += 1
                if writer.transport.is_closing():
                    raise ConnectionResetError
            for delta in _tool_call_deltas(reply):
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                writer.write(event(b'[{"index":0,"delta":%s,"finish_reason":null}]' % delta))
                await writer.drain()
            finish = orjson.dumps(reply.finish())
            writer.write(event(b'[{"index":0,"delta":{},"finish_reason":%s}]' % finish))
            if (body.get("stream_options") or {}).get("include_usage"):
                usage = orjson.dumps(_usage(body, words))
                timings = orjson.dumps(_timings(words))
                writer.write(event(b"[]", b',"usage":%s,"timings":%s' % (usage, timings)))
            done = b"data: [DONE]\n\n"
            writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(done), done))
            await writer.drain()
        except (ConnectionError, RuntimeError):
            seen.closed_by_client = True
            return False
        seen.finished = True
        return True

    def _model(self, body: dict[str, Any]) -> str:
        return self.served_model or str(body.get("model", "gpt-4o-mini"))

    def closed_by_client(self) -> list[Seen]:
        return [s for s in self.seen if s.closed_by_client]


def last_role(body: dict[str, Any]) -> str:
    """The role of the request's last message ("none" when it has none)."""
    messages = body.get("messages") or [{}]
    return str(messages[-1].get("role", "none"))


def _tool_call_deltas(reply: Reply) -> list[bytes]:
    """The ``delta`` objects that stream the reply's tool calls in its ``tool_style``."""
    deltas: list[bytes] = []
    for index, (call, call_id) in enumerate(
        zip(reply.tool_calls, reply.tool_call_ids(), strict=True)
    ):
        arguments = call.json()
        keyed: dict[str, Any] = {} if reply.tool_style == "no_index" else {"index": index}
        head = {**keyed, "id": call_id, "type": "function"}
        if reply.tool_style == "whole":
            function = {"name": call.name, "arguments": arguments}
            deltas.append(orjson.dumps({"tool_calls": [{**head, "function": function}]}))
            continue
        function = {"name": call.name, "arguments": ""}
        deltas.append(orjson.dumps({"tool_calls": [{**head, "function": function}]}))
        step = max(1, len(arguments) // 3)
        for start in range(0, len(arguments), step):
            piece = {**keyed, "function": {"arguments": arguments[start : start + step]}}
            deltas.append(orjson.dumps({"tool_calls": [piece]}))
    return deltas


def _usage(body: dict[str, Any], words: list[str]) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": len(words),
        "total_tokens": prompt + len(words),
    }


def _timings(words: list[str]) -> dict[str, float]:
    """The shape of llama.cpp's ``timings``, which no OpenAI SDK model declares."""
    return {"prompt_n": 1, "prompt_ms": 1.0, "predicted_n": len(words), "predicted_ms": 1.0}


async def _send_json(writer: asyncio.StreamWriter, status: int, payload: Any) -> None:
    data = orjson.dumps(payload)
    writer.write(
        b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"connection: keep-alive\r\n\r\n%s" % (status, len(data), data)
    )
    await writer.drain()


def reply_from_json(fields: dict[str, Any]) -> Reply:
    """A Reply from its fields as JSON, tool calls as ``{"name", "arguments", "id"}`` objects."""
    calls = [ToolCall(**call) for call in fields.get("tool_calls", [])]
    return Reply(**{**fields, "tool_calls": calls})


class _BenchStandIn(OpenAIStandIn):
    """The CLI's stand-in: ``PUT /_bench/reply`` with Reply fields changes the default reply,
    so one benchmark run can switch between scenarios without restarting the servers;
    ``GET /_bench/stats`` tells a load generator what the requests it caused carried."""

    async def _respond(
        self, method: str, path: str, raw: bytes, writer: asyncio.StreamWriter
    ) -> bool:
        if method == "PUT" and path == "/_bench/reply":
            self.default = reply_from_json(orjson.loads(raw))
            await _send_json(writer, 200, {"token_count": self.default.token_count})
            return True
        if method == "GET" and path == "/_bench/stats":
            await _send_json(writer, 200, {"last_roles": dict(self.last_roles)})
            return True
        return await super()._respond(method, path, raw, writer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument(
        "--tool-call",
        action="append",
        default=[],
        metavar="JSON",
        help='{"name": ..., "arguments": {...}}: answer each user message with this tool call '
        "(repeat for parallel calls) and each tool result with the text",
    )
    args = parser.parse_args()
    calls = [orjson.loads(call) for call in args.tool_call]

    async def serve() -> None:
        default = {"token_count": args.tokens, "delay": args.delay_ms / 1000}
        if calls:
            default |= {"tool_calls": calls, "tools_then_text": True}
        standin = _BenchStandIn(host=args.host, port=args.port, default=reply_from_json(default))
        await standin.start()
        print(f"OpenAI stand-in on {standin.base_url}", flush=True)
        # Benchmarks run for hours at most; keep no per-request history.
        while True:
            await asyncio.sleep(5)
            standin.seen.clear()

    # uvloop, when installed, keeps the stand-in's own cost per token small next to the server's.
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
