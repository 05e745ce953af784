"""A bounded SSE load generator: N concurrent streams, a request count and a time limit.

Each stream records its time to first token, the largest gap between two reads that carried
tokens, its token count and errors; the socket bytes of every response (status line, headers
and HTTP chunk framing included) are counted below httpx, so bytes per token is what really
crossed the wire. Every system gets the same ``Accept-Encoding`` (httpx's default, which asks for
gzip, as browsers do; ``--accept-encoding identity`` asks for plain text), and frames are read
after httpx has decoded the body. Frames are told apart by their first bytes, never JSON-parsed,
so that the client stays cheap next to the server it measures. Two formats:

- ``ours``: ``event: stream_event`` chunk frames, then ``event: final`` (or ``event: error``);
- ``langgraph``: ``langgraph dev``'s ``event: messages`` frames (``stream_mode=messages-tuple``),
  a token being a message chunk whose ``content`` is not empty (an ``id:`` line may come first).

``--threads`` (issue 15) speaks the LangGraph server API on threads, as ``langgraph dev`` and our
server's ``app/routes/langgraph`` both serve it: the URL is the server's root, and each stream
first creates a thread (``POST /threads`` with ``{}``), then streams a run on it (``POST
/threads/{thread_id}/runs/stream``, ``stream_mode: ["messages-tuple"]``), counted as
``langgraph`` frames (``langgraph dev`` ends the response after the last one, with no ``event:
end``: neither server is asked for one). TTFT, gaps and the stream's total time start at the
run's request; the thread's creation is timed apart (``setup``), while its CPU and wire bytes
count with the scenario's.

``--agent`` runs tool-agent turns instead of streaming-chat replies: "What is 17*23?" on a new
thread each (a stateless run on ``langgraph dev``), the stand-in told to answer it with one
calculator call and the call's result with text. A turn counts only if a tool step reached the
client (``step_finished``; on ``langgraph dev`` the tool's message), and the summary carries the
stand-in's count of the requests it served, by the role of their last message: one ``user`` and
one ``tool`` per turn when every turn really ran its tool.

Lines may end with LF or, as sse-starlette writes them, CRLF; comments (pings) are skipped.

With ``--watch-pid`` it also samples the server's process tree from ``/proc``: CPU time
(utime + stime) over the scenario, and the largest summed RSS.

Run alone: ``python -m bench.load http://127.0.0.1:8000/stream -c 50``; ``python -m bench.load
http://127.0.0.1:8000 --threads --format langgraph -c 50`` for the LangGraph API on threads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import typing
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpcore
import httpx
import orjson

Format = Literal["ours", "langgraph", "aisdk", "agui"]

OURS_BODY: dict[str, Any] = {"message": {"content": "Tell me a story about a space explorer"}}
LANGGRAPH_BODY: dict[str, Any] = {
    "assistant_id": "streaming-chat-1.0.0",
    "input": {"messages": [{"role": "user", "content": "Tell me a story about a space explorer"}]},
    "stream_mode": "messages-tuple",
}
# --threads: a run on a new thread. Ours resolves the bare name to streaming-chat's default
# version (1.1.0, whose neutral style adds no system prompt); langgraph dev and Aegra know the
# graphs by langgraph.json's ids, so they are given that version's (bench.scenarios picks by
# system).
THREAD_ASSISTANTS = {
    "ours": "streaming-chat",
    "langgraph": "streaming-chat-1.1.0",
    "aegra": "streaming-chat-1.1.0",
}
THREAD_RUN_BODY: dict[str, Any] = {
    "assistant_id": THREAD_ASSISTANTS["ours"],
    "input": {"messages": [{"role": "user", "content": "Tell me a story about a space explorer"}]},
    "stream_mode": ["messages-tuple"],
}

AGENT_QUESTION = "What is 17*23?"
AGENT_TOOL_CALL: dict[str, Any] = {"name": "calculator", "arguments": {"expression": "17*23"}}
OURS_AGENT_BODY: dict[str, Any] = {
    "graphType": "tool-agent",
    "message": {"content": AGENT_QUESTION},
}
LANGGRAPH_AGENT_BODY: dict[str, Any] = {
    "assistant_id": "tool-agent-1.0.0",
    "input": {"messages": [{"role": "user", "content": AGENT_QUESTION}]},
    # The closest to what ours sends: the text tokens, the tool call's argument chunks and the
    # tool's result. Ours adds step start/end frames and a final frame; "updates" or "values"
    # would add whole node outputs or states on top, which ours does not send.
    "stream_mode": ["messages-tuple"],
}

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


# --- Wire bytes: an httpcore network backend on plain asyncio streams that counts reads ------


class _CountingStream(httpcore.AsyncNetworkStream):
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: list[int]
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._counter = counter

    # httpcore's interface names the `timeout` parameters (hence the noqa below).
    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109
        # No per-read timeout: the scenario's deadline bounds every stream.
        data = await self._reader.read(max_bytes)
        self._counter[0] += len(data)
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109
        self._writer.write(buffer)
        await self._writer.drain()

    async def aclose(self) -> None:
        self._writer.transport.abort()

    def get_extra_info(self, info: str) -> Any:
        return self._writer.get_extra_info(info)


class CountingBackend(httpcore.AsyncNetworkBackend):
    """Plain asyncio sockets (cheaper than anyio's per read) that add up the bytes received."""

    def __init__(self) -> None:
        self.counter = [0]

    @property
    def received(self) -> int:
        return self.counter[0]

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109
        local_address: str | None = None,
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
        return _CountingStream(reader, writer, self.counter)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109
        socket_options: typing.Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise NotImplementedError

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def counting_client(
    backend: CountingBackend, connections: int, accept_encoding: str | None = None
) -> httpx.AsyncClient:
    """A client on ``backend``; ``accept_encoding`` replaces httpx's default header."""
    transport = httpx.AsyncHTTPTransport()
    # httpx has no public way to pass a network backend; its transport wraps exactly this pool.
    transport._pool = httpcore.AsyncConnectionPool(
        max_connections=connections,
        max_keepalive_connections=connections,
        network_backend=backend,
    )
    client = httpx.AsyncClient(transport=transport, timeout=None)
    if accept_encoding is not None:
        client.headers["accept-encoding"] = accept_encoding
    return client


# --- The server's process tree, from /proc ----------------------------------------------------


class ProcessTree:
    """A process and its descendants: CPU seconds and resident memory, read from ``/proc``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def pids(self) -> list[int]:
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                for task in os.listdir(f"/proc/{pid}/task"):
                    children = Path(f"/proc/{pid}/task/{task}/children").read_text()
                    todo.extend(int(c) for c in children.split())
        return found

    def cpu_seconds(self) -> float:
        user, system = self.cpu_split()
        return user + system

    def cpu_split(self) -> tuple[float, float]:
        """User and kernel CPU seconds (utime, stime) of the tree's live processes."""
        user = system = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                # Fields after the parenthesised command name; utime and stime are 14 and 15.
                fields = stat[stat.rindex(")") + 2 :].split()
                user += int(fields[11])
                system += int(fields[12])
        return user / _CLOCK_TICKS, system / _CLOCK_TICKS

    def rss_bytes(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE
        return total

    def hwm_bytes(self) -> int:
        """Summed VmHWM: each process's own peak over its lifetime."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1]) * 1024
        return total


# --- One stream -------------------------------------------------------------------------------


@dataclass
class StreamResult:
    ttft: float | None = None  # seconds from sending the request to the first token
    max_gap: float = 0.0  # largest gap between two reads that carried tokens
    tokens: int = 0
    steps: int = 0  # tool steps that reached the client
    total: float = 0.0
    error: str | None = None
    encoding: str = "identity"  # the response's Content-Encoding
    setup: float | None = None  # --threads: seconds the thread's creation took


def _count_ours(frames: list[bytes], result: StreamResult) -> tuple[int, bool]:
    tokens, done = 0, False
    for frame in frames:
        # "id: N\nevent: stream_event\n..." -- the event name follows the id line.
        head = frame[:48]
        if b"event: stream_event" in head:
            tokens += 1
            if b'"type":"step_finished"' in frame[:96]:
                result.steps += 1
        elif b"event: final" in head:
            done = True
        elif b"event: error" in head:
            result.error = "error-frame"
            done = True
    return tokens, done


def _count_aisdk(frames: list[bytes], result: StreamResult) -> tuple[int, bool]:
    """The AI SDK's UI message stream: a token per text-delta part, the end at [DONE]."""
    tokens, done = 0, False
    for frame in frames:
        head = frame[:32]
        if head.startswith(b'data: {"type":"text-delta"'):
            tokens += 1
        elif head.startswith(b'data: {"type":"tool-output-'):
            result.steps += 1
        elif head.startswith(b"data: [DONE]"):
            done = True
        elif head.startswith(b'data: {"type":"error"'):
            result.error = "error-part"
    return tokens, done


def _count_agui(frames: list[bytes], result: StreamResult) -> tuple[int, bool]:
    """AG-UI: a token per TEXT_MESSAGE_CONTENT, the end at RUN_FINISHED (or RUN_ERROR)."""
    tokens, done = 0, False
    for frame in frames:
        head = frame[:40]
        if head.startswith(b'data: {"type":"TEXT_MESSAGE_CONTENT"'):
            tokens += 1
        elif head.startswith(b'data: {"type":"TOOL_CALL_RESULT"'):
            result.steps += 1
        elif head.startswith(b'data: {"type":"RUN_FINISHED"'):
            done = True
        elif head.startswith(b'data: {"type":"RUN_ERROR"'):
            result.error = "run-error"
            done = True
    return tokens, done


def _count_langgraph(frames: list[bytes], result: StreamResult) -> tuple[int, bool]:
    tokens = 0
    for frame in frames:
        if frame.startswith(b"id:"):  # "id: N\nevent: ...": the event name follows the id line
            frame = frame[frame.find(b"\n") + 1 :]
        if frame.startswith(b"event: messages"):
            # data: [{"content":"...", ...}, metadata]: a token when content is not "" (nor an
            # empty list of content blocks), whether or not a space follows the colon.
            at = frame.find(b'"content":', 15)
            if at >= 0 and frame[at + 10 : at + 14].lstrip()[:2] not in (b'""', b"[]"):
                tokens += 1
                if b'"type":"tool"' in frame:  # the tool node's result message
                    result.steps += 1
        elif frame.startswith(b"event: error"):
            result.error = "error-frame"
    return tokens, False


COUNTERS: dict[str, Callable[[list[bytes], StreamResult], tuple[int, bool]]] = {
    "ours": _count_ours,
    "langgraph": _count_langgraph,
    "aisdk": _count_aisdk,
    "agui": _count_agui,
}


async def new_thread(client: httpx.AsyncClient, root: str, result: StreamResult) -> str | None:
    """``POST /threads`` with ``{}``: the new thread's run URL, or ``None`` with an error set."""
    start = time.perf_counter()
    try:
        response = await client.post(
            f"{root}/threads", content=b"{}", headers={"content-type": "application/json"}
        )
    except httpx.HTTPError as exc:
        result.error = f"threads-{type(exc).__name__}"
        return None
    finally:
        result.setup = time.perf_counter() - start
    if response.status_code != 200:
        result.error = f"threads-http-{response.status_code}"
        return None
    try:
        thread_id = orjson.loads(response.content)["thread_id"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        result.error = "threads-no-id"
        return None
    return f"{root}/threads/{thread_id}/runs/stream"


async def one_stream(
    client: httpx.AsyncClient,
    url: str,
    fmt: Format,
    body: bytes,
    *,
    agent: bool = False,
    threads: bool = False,
) -> StreamResult:
    """One request; with ``agent``, a turn that finishes without a tool step is an error; with
    ``threads``, ``url`` is the server's root and the run goes to a thread made for it."""
    result = StreamResult()
    if threads:
        thread_url = await new_thread(client, url, result)
        if thread_url is None:
            return result
        url = thread_url
    count = COUNTERS[fmt]
    start = last = time.perf_counter()
    done = False
    try:
        async with client.stream(
            "POST", url, content=body, headers={"content-type": "application/json"}
        ) as response:
            if response.status_code != 200:
                await response.aread()
                result.error = f"http-{response.status_code}"
                return result
            result.encoding = response.headers.get("content-encoding", "identity")
            buffer = b""
            # Decoded (gzip and the like) by httpx; the wire bytes were counted below it.
            async for data in response.aiter_bytes():
                data = buffer + data
                if b"\r" in data:
                    # sse-starlette ends lines with CRLF (langgraph dev's frames, and its pings
                    # between our LF frames): one line end for the split below.
                    data = data.replace(b"\r\n", b"\n")
                frames = data.split(b"\n\n")
                buffer = frames.pop()
                if not frames:
                    continue
                tokens, done = count(frames, result)
                if tokens:
                    now = time.perf_counter()
                    if result.ttft is None:
                        result.ttft = now - start
                    else:
                        result.max_gap = max(result.max_gap, now - last)
                    last = now
                    result.tokens += tokens
        if fmt != "langgraph" and not done and result.error is None:
            result.error = "no-final"
        if agent and not result.steps and result.error is None:
            result.error = "no-tool-step"
    except asyncio.CancelledError:
        result.error = "time-limit"
        raise
    except httpx.HTTPError as exc:
        result.error = type(exc).__name__
    finally:
        result.total = time.perf_counter() - start
    return result


# --- A scenario -------------------------------------------------------------------------------


@dataclass
class Summary:
    streams: int
    ok: int
    errors: dict[str, int]
    tokens: int
    steps: int  # tool steps that reached the client
    wire_bytes: int
    tokens_min: int  # fewest tokens in one finished stream (all streams should match)
    tokens_max: int
    wall: float  # seconds from the first request to the end of the last stream
    ttft: list[float] = field(default_factory=list)
    max_gap: list[float] = field(default_factory=list)
    total: list[float] = field(default_factory=list)
    setup: list[float] = field(default_factory=list)  # --threads: each POST /threads, seconds
    cpu: float | None = None  # server tree CPU seconds over the scenario
    cpu_system: float | None = None  # of which in the kernel (stime)
    client_cpu: float = 0.0  # this process's CPU seconds over the scenario
    rss_peak: int | None = None  # largest summed RSS of the server tree, sampled
    hwm: int | None = None  # summed VmHWM of the server tree at the end
    encodings: dict[str, int] = field(default_factory=dict)  # responses by Content-Encoding
    # Requests the stand-in served during the scenario, by the role of their last message.
    upstream: dict[str, int] | None = None

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.wall if self.wall else 0.0

    @property
    def cpu_us_per_token(self) -> float | None:
        if self.cpu is None or not self.tokens:
            return None
        return self.cpu / self.tokens * 1e6

    @property
    def wire_bytes_per_token(self) -> float | None:
        return self.wire_bytes / self.tokens if self.tokens else None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[int(rank) - 1]


class Sampler:
    """Samples a process tree's RSS every ``interval`` seconds while a scenario runs."""

    def __init__(self, tree: ProcessTree | None, interval: float = 0.1) -> None:
        self._tree = tree
        self._interval = interval
        self.peak = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._tree is not None:
            self.sample()
            self._task = asyncio.get_running_loop().create_task(self._run())

    def sample(self) -> None:
        if self._tree is not None:
            self.peak = max(self.peak, self._tree.rss_bytes())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            self.sample()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self.sample()


async def drive(
    one: Callable[[], Awaitable[StreamResult]],
    *,
    concurrency: int,
    requests: int,
    time_limit: float,
    ramp: float = 0.0,
    tree: ProcessTree | None = None,
) -> Summary:
    """Run ``one()`` ``requests`` times, at most ``concurrency`` at once, all cut at
    ``time_limit``; ``tree`` is the process whose CPU and memory the scenario costs.

    Each of the ``concurrency`` workers runs streams back to back; with ``ramp`` their first
    streams start spread evenly over that many seconds instead of all at once, so that a
    ramp as long as one stream holds the concurrency steady rather than in waves."""
    sampler = Sampler(tree)
    results: list[StreamResult] = []
    pending = iter(range(requests))
    workers = min(concurrency, requests)

    async def worker(index: int) -> None:
        if ramp > 0:
            await asyncio.sleep(ramp * index / workers)
        for _ in pending:
            results.append(await one())

    split0 = tree.cpu_split() if tree is not None else None
    client0 = time.process_time()
    sampler.start()
    start = time.perf_counter()
    tasks = [asyncio.create_task(worker(i)) for i in range(workers)]
    _, late = await asyncio.wait(tasks, timeout=time_limit)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    wall = time.perf_counter() - start
    await sampler.stop()
    client_cpu = time.process_time() - client0
    split1 = tree.cpu_split() if tree is not None else None
    cpu = cpu_system = None
    if split0 is not None and split1 is not None:
        cpu = sum(split1) - sum(split0)
        cpu_system = split1[1] - split0[1]
    # Streams cut by the time limit never appended a result; they count as errors.
    unfinished = requests - len(results)
    errors = Counter(r.error for r in results if r.error is not None)
    if unfinished:
        errors["time-limit"] += unfinished
    ok = [r for r in results if r.error is None]
    return Summary(
        streams=requests,
        ok=len(ok),
        errors=dict(errors),
        tokens=sum(r.tokens for r in results),
        steps=sum(r.steps for r in results),
        wire_bytes=0,
        tokens_min=min((r.tokens for r in ok), default=0),
        tokens_max=max((r.tokens for r in ok), default=0),
        wall=wall,
        ttft=[r.ttft for r in results if r.ttft is not None],
        max_gap=[r.max_gap for r in results if r.ttft is not None],
        total=[r.total for r in ok],
        setup=[r.setup for r in results if r.setup is not None],
        cpu=cpu,
        cpu_system=cpu_system,
        client_cpu=client_cpu,
        rss_peak=sampler.peak if tree is not None else None,
        hwm=tree.hwm_bytes() if tree is not None else None,
        encodings=dict(Counter(r.encoding for r in results)),
    )


async def run_scenario(
    url: str,
    fmt: Format,
    *,
    concurrency: int,
    requests: int,
    time_limit: float,
    ramp: float = 0.0,
    body: dict[str, Any] | None = None,
    agent: bool = False,
    threads: bool = False,
    watch: int | None = None,
    accept_encoding: str | None = None,
) -> Summary:
    """Streams from a server at ``url``; ``agent`` runs tool-agent turns (unless ``body`` is
    given); ``threads`` runs each on a new thread of the LangGraph API, ``url`` being the root;
    ``watch`` is the server's pid; ``accept_encoding`` replaces httpx's default
    ``Accept-Encoding``."""
    payload = _bodies(fmt, agent, body, threads)
    backend = CountingBackend()
    async with counting_client(backend, concurrency, accept_encoding) as client:
        summary = await drive(
            lambda: one_stream(client, url, fmt, payload(), agent=agent, threads=threads),
            concurrency=concurrency,
            requests=requests,
            time_limit=time_limit,
            ramp=ramp,
            tree=ProcessTree(watch) if watch is not None else None,
        )
    summary.wire_bytes = backend.received
    return summary


async def set_reply(upstream: str, tokens: int, delay_ms: float, *, agent: bool = False) -> None:
    """Tell the stand-in (``python -m bench.openai_standin``) how to answer from now on; with
    ``agent``, the user's message with a tool call and the tool's result with the text."""
    reply: dict[str, Any] = {"token_count": tokens, "delay": delay_ms / 1000}
    if agent:
        reply |= {"tool_calls": [AGENT_TOOL_CALL], "tools_then_text": True}
    async with httpx.AsyncClient() as client:
        response = await client.put(f"{upstream}/_bench/reply", json=reply)
        response.raise_for_status()


async def upstream_roles(upstream: str) -> Counter[str]:
    """The requests the stand-in has served so far, by the role of their last message."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{upstream}/_bench/stats")
        response.raise_for_status()
        return Counter(response.json()["last_roles"])


def add_reply_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--upstream", help="stand-in root URL: set its reply before the run")
    parser.add_argument("--tokens", type=int, default=200, help="tokens per reply (--upstream)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="per token (--upstream)")
    parser.add_argument(
        "--warmup", type=int, default=0, help="short streams first, unmeasured (--upstream)"
    )


def _front_end_body(fmt: Format) -> bytes:
    """A new thread's first turn, as the AI SDK's useChat or AG-UI's HttpAgent sends it."""
    thread, text = f"bench-{uuid.uuid4().hex}", OURS_BODY["message"]["content"]
    if fmt == "aisdk":
        user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": text}]}
        return orjson.dumps({"id": thread, "messages": [user], "trigger": "submit-message"})
    user = {"id": uuid.uuid4().hex, "role": "user", "content": text}
    run = {"threadId": thread, "runId": uuid.uuid4().hex, "messages": [user]}
    return orjson.dumps({**run, "tools": [], "context": [], "state": {}, "forwardedProps": {}})


def _bodies(
    fmt: Format, agent: bool, body: dict[str, Any] | None, threads: bool = False
) -> Callable[[], bytes]:
    """Each request's body: ``body`` if given, else the format's; on ours, a new thread for
    each agent turn (``langgraph dev``'s stateless runs get theirs from the server); the
    front-end protocols a new thread each."""
    if body is None and fmt in ("aisdk", "agui"):
        return lambda: _front_end_body(fmt)
    if body is None and agent and fmt == "ours":
        return lambda: orjson.dumps({**OURS_AGENT_BODY, "threadId": f"bench-{uuid.uuid4().hex}"})
    if body is None and threads:
        body = THREAD_RUN_BODY
    if body is None:
        body = LANGGRAPH_AGENT_BODY if agent else (OURS_BODY if fmt == "ours" else LANGGRAPH_BODY)
    payload = orjson.dumps(body)
    return lambda: payload


def describe(summary: Summary) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value * 1000:.1f} ms"

    lines = [
        f"streams {summary.ok}/{summary.streams} ok, errors {summary.errors or 0}",
        f"TTFT p50 {ms(percentile(summary.ttft, 50))}, p99 {ms(percentile(summary.ttft, 99))}",
        f"largest gap p99 {ms(percentile(summary.max_gap, 99))}",
        f"{summary.tokens} tokens in {summary.wall:.2f} s: {summary.tokens_per_second:.0f} tok/s"
        f" ({summary.tokens_min}-{summary.tokens_max} per finished stream)",
        f"wire {summary.wire_bytes} B: {summary.wire_bytes_per_token or 0:.1f} B/token"
        f" (Content-Encoding: {summary.encodings or '-'})",
        f"client CPU {summary.client_cpu:.2f} s",
    ]
    if summary.setup:
        lines.append(
            f"POST /threads p50 {ms(percentile(summary.setup, 50))}, "
            f"p99 {ms(percentile(summary.setup, 99))}"
        )
    if summary.steps or summary.upstream:
        roles = summary.upstream or "-"
        lines.append(f"tool steps {summary.steps}; stand-in requests by last role {roles}")
    if summary.cpu_us_per_token is not None:
        kernel = (summary.cpu_system or 0) / summary.cpu * 100 if summary.cpu else 0
        lines.append(f"server CPU {summary.cpu_us_per_token:.0f} us/token ({kernel:.0f}% kernel)")
    if summary.rss_peak is not None:
        lines.append(f"server RSS peak {summary.rss_peak / 2**20:.0f} MB")
    return "\n".join(lines)


def use_uvloop() -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("url")
    parser.add_argument("--format", choices=["ours", "langgraph", "aisdk", "agui"], default="ours")
    parser.add_argument("-c", "--concurrency", type=int, default=1)
    parser.add_argument("-n", "--requests", type=int, help="default: the concurrency")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds, for everything")
    parser.add_argument(
        "--ramp", type=float, default=0.0, help="spread the first streams over these seconds"
    )
    parser.add_argument("--body", help="JSON request body (default: one per format)")
    parser.add_argument(
        "--agent", action="store_true", help="tool-agent turns, one tool call each (see above)"
    )
    parser.add_argument(
        "--threads",
        action="store_true",
        help="url is the root: POST /threads, then /threads/{id}/runs/stream (see above)",
    )
    parser.add_argument("--watch-pid", type=int, help="server process (tree) to measure")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument(
        "--accept-encoding", help="send this Accept-Encoding (default: httpx's, with gzip)"
    )
    add_reply_arguments(parser)
    args = parser.parse_args(argv)
    if args.concurrency < 1 or (args.requests is not None and args.requests < 1):
        parser.error("--concurrency and --requests must be at least 1")
    body = orjson.loads(args.body) if args.body else None

    async def scenario() -> Summary:
        before: Counter[str] | None = None
        if args.upstream:
            await set_reply(args.upstream, 20, 0, agent=args.agent)
            if args.warmup:
                await run_scenario(
                    args.url,
                    args.format,
                    concurrency=1,
                    requests=args.warmup,
                    time_limit=args.time_limit,
                    body=body,
                    agent=args.agent,
                    threads=args.threads,
                    accept_encoding=args.accept_encoding,
                )
            await set_reply(args.upstream, args.tokens, args.delay_ms, agent=args.agent)
            before = await upstream_roles(args.upstream)
        summary = await run_scenario(
            args.url,
            args.format,
            concurrency=args.concurrency,
            requests=args.requests or args.concurrency,
            time_limit=args.time_limit,
            ramp=args.ramp,
            body=body,
            agent=args.agent,
            threads=args.threads,
            watch=args.watch_pid,
            accept_encoding=args.accept_encoding,
        )
        if before is not None:
            summary.upstream = dict((await upstream_roles(args.upstream)) - before)
        return summary

    use_uvloop()
    summary = asyncio.run(scenario())
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(asdict(summary)) + b"\n")
    else:
        print(describe(summary))


if __name__ == "__main__":
    main()
