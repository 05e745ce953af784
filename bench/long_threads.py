"""Long threads (issue 24): what a turn costs, and what a thread holds in Redis, as it grows.

    python -m bench.long_threads [--baseline REF] [--turns 300] [--threads 20]

``ours-redis`` (``python -m app`` on a fresh redis-server, ``REDIS_KEEP_HISTORY`` at its
default, true), and with ``--baseline`` the same server from REF's tree (``bench.baseline``),
against the OpenAI stand-in with no delay (40-token replies). Each system runs:

- **one thread** of ``--turns`` turns, one after another, each a 200-character message through
  ``POST /stream``: the turn's time (request to the stream's end), the server's CPU over it, and
  the bytes Redis received (``total_net_input_bytes``: checkpoint, records, run log);
- **``--threads`` threads at once**, ``--turns`` turns each, in lock step (every thread's turn n,
  then n + 1), so that turn n's CPU is the server's over that round divided by the threads.

Figures are medians over the ten turns up to each reported turn (11-20, 91-100, ...), but
CPU, which the kernel counts in 10 ms ticks, is their mean. Redis
memory is ``MEMORY USAGE`` of the thread's two checkpoint keys, and ``used_memory`` above the
empty server's (run logs, records and their expiries included) divided by the threads.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import redis

from bench.baseline import Baseline, describe_tree, exported, twin
from bench.children import REPO, standin
from bench.load import ProcessTree
from bench.systems import LOG_PREFIX, SYSTEMS, System, server

REPORTED = (20, 100, 200, 300)
WINDOW = 10  # turns per median
MESSAGE = ("Please keep this in mind for later: " + "the quick brown fox jumps over. " * 6)[:200]
# The targets for a 300-turn thread with history kept.
MAX_THREAD_MB = 10.0
MAX_LATE_WRITE_KB = 20.0
MAX_GROWTH = 3.0  # median turn at the last reported turn over the median at turn 20


@dataclass
class Turn:
    seconds: float
    cpu: float
    written: int = 0  # bytes Redis received during the turn (one thread only)
    logged: int = 0  # of which the run log's frames (their field names and values)


@dataclass
class Result:
    label: str
    single: list[Turn] = field(default_factory=list)
    many: list[Turn] = field(default_factory=list)  # per round: median time, CPU per turn
    thread_bytes: int = 0  # MEMORY USAGE of the single thread's checkpoint keys
    single_used: int = 0  # used_memory above empty, after the single thread
    many_used_per_thread: float = 0.0
    errors: int = 0


async def _turn(
    client: httpx.AsyncClient, url: str, thread_id: str, request_id: str | None = None
) -> bool:
    body = {"message": {"content": MESSAGE}, "threadId": thread_id, "userId": "bench"}
    if request_id is not None:
        body["requestId"] = request_id
    async with client.stream("POST", url, content=orjson.dumps(body)) as response:
        last = b""
        async for chunk in response.aiter_bytes():
            last = (last + chunk)[-4096:]
        return response.status_code == 200 and b"event: final" in last


def _used(r: redis.Redis) -> int:
    return int(r.info("memory")["used_memory"])


def _received(r: redis.Redis) -> int:
    return int(r.info("stats")["total_net_input_bytes"])


def _logged(r: redis.Redis, request_id: str) -> int:
    """What the run's log holds: roughly what its XADDs sent, less the commands' framing."""
    for key in (f"{{{LOG_PREFIX}:r:{request_id}}}:log", f"{LOG_PREFIX}:log:{request_id}"):
        # The key as issue 22's cluster layout names it, else as the trees before it did.
        if entries := r.xrange(key):
            return sum(len(k) + len(v) for _, fields in entries for k, v in fields.items())
    return 0


def _thread_bytes(r: redis.Redis, thread_id: str) -> int:
    tag = f"{{{LOG_PREFIX}:t:{thread_id}}}"
    return sum(int(r.memory_usage(f"{tag}:{k}", samples=0) or 0) for k in ("data", "index"))


async def _run(
    result: Result, url: str, tree: ProcessTree, r: redis.Redis, turns: int, threads: int
) -> None:
    headers = {"content-type": "application/json", "accept-encoding": "identity"}
    limits = httpx.Limits(max_connections=threads + 1)
    async with httpx.AsyncClient(timeout=120, headers=headers, limits=limits) as client:
        empty = _used(r)
        for n in range(turns):
            written, cpu, start = _received(r), tree.cpu_seconds(), time.perf_counter()
            ok = await _turn(client, url, "long-0", f"long-0-{n}")
            took = time.perf_counter() - start
            turn = Turn(took, tree.cpu_seconds() - cpu, _received(r) - written)
            result.errors += not ok
            # Read after the turn's figures are taken, so that it is not counted in them.
            turn.logged = _logged(r, f"long-0-{n}")
            result.single.append(turn)
            print(f"  {result.label}: one thread, turn {n + 1}", end="\r", file=sys.stderr)
        result.thread_bytes = _thread_bytes(r, "long-0")
        result.single_used = _used(r) - empty
        if threads < 1:
            return
        before = _used(r)
        for n in range(turns):
            cpu = tree.cpu_seconds()

            async def timed(i: int) -> float:
                start = time.perf_counter()
                result.errors += not await _turn(client, url, f"many-{i}")
                return time.perf_counter() - start

            times = await asyncio.gather(*(timed(i) for i in range(threads)))
            per_turn = (tree.cpu_seconds() - cpu) / threads
            result.many.append(Turn(statistics.median(times), per_turn))
            print(f"  {result.label}: {threads} threads, turn {n + 1}", end="\r", file=sys.stderr)
        result.many_used_per_thread = (_used(r) - before) / threads
    print(file=sys.stderr)


def measure(system: System, upstream: str, workdir: Path, args: argparse.Namespace) -> Result:
    result = Result(system.label)
    with server(system, args.repo, upstream, workdir, args.server_cores, args.client_cores) as (
        process,
        url,
        store,
    ):
        assert store is not None and hasattr(store, "port")
        r = redis.Redis.from_url(f"redis://127.0.0.1:{store.port}/0")
        try:
            asyncio.run(_run(result, url, ProcessTree(process.pid), r, args.turns, args.threads))
        finally:
            r.close()
    return result


def _at(turns: list[Turn], n: int) -> list[Turn]:
    return turns[max(0, n - WINDOW) : n]


def _ms(turns: list[Turn], what: str) -> str:
    if not turns:
        return "-"
    if what == "cpu":  # counted in 10 ms ticks: a mean over the window, not a median
        return f"{statistics.fmean(t.cpu for t in turns) * 1000:.1f}"
    return f"{statistics.median(t.seconds for t in turns) * 1000:.1f}"


def report(results: list[Result], turns: int, threads: int) -> str:
    shown = [n for n in REPORTED if n <= turns] or [turns]
    head = "| system | figure | " + " | ".join(f"turn {n}" for n in shown) + " |"
    lines = [head, "| --- | --- | " + " | ".join("---" for _ in shown) + " |"]
    for res in results:
        rows = [
            ("one thread: turn time, ms", [_ms(_at(res.single, n), "seconds") for n in shown]),
            ("one thread: server CPU, ms", [_ms(_at(res.single, n), "cpu") for n in shown]),
            (
                "one thread: written to Redis, KB",
                [
                    f"{statistics.median(t.written for t in _at(res.single, n)) / 1024:.1f}"
                    for n in shown
                ],
            ),
            (
                "... of which the run log, KB",
                [
                    f"{statistics.median(t.logged for t in _at(res.single, n)) / 1024:.1f}"
                    for n in shown
                ],
            ),
        ]
        if res.many:
            rows += [
                (
                    f"{threads} threads: turn time, ms",
                    [_ms(_at(res.many, n), "seconds") for n in shown],
                ),
                (
                    f"{threads} threads: CPU per turn, ms",
                    [_ms(_at(res.many, n), "cpu") for n in shown],
                ),
            ]
        for name, cells in rows:
            lines.append(f"| {res.label} | {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| system | thread's checkpoint keys | used_memory above empty, one thread "
        f"| per thread of {threads} | failed turns |",
        "| --- | --- | --- | --- | --- |",
    ]
    for res in results:
        lines.append(
            f"| {res.label} | {res.thread_bytes / 1e6:.2f} MB | {res.single_used / 1e6:.2f} MB | "
            f"{res.many_used_per_thread / 1e6:.2f} MB | {res.errors} |"
        )
    lines += ["", *targets(results[0], shown[-1], threads)]
    return "\n".join(lines)


def _growth(turns: list[Turn], last: int) -> float | None:
    """The median turn at ``last`` over the median at the first reported turn."""
    first, late = _at(turns, REPORTED[0]), _at(turns, last)
    if not first or not late:
        return None
    return statistics.median(t.seconds for t in late) / statistics.median(t.seconds for t in first)


def _verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else "MISSED"


def targets(res: Result, last: int, threads: int) -> list[str]:
    write_kb = statistics.median(t.written for t in _at(res.single, last)) / 1024
    memory_mb = max(res.thread_bytes, res.single_used, res.many_used_per_thread) / 1e6
    growths = [("one thread", _growth(res.single, last))]
    if res.many:
        growths.append((f"{threads} threads", _growth(res.many, last)))
    turn = "; ".join(
        f"median turn, {label}, {g:.2f}x turn {REPORTED[0]}'s (at most {MAX_GROWTH:.0f}x): "
        f"{_verdict(g, MAX_GROWTH)}"
        for label, g in growths
        if g is not None
    )
    return [
        f"Targets ({res.label}, turn {last}): a thread in Redis {memory_mb:.2f} MB "
        f"(at most {MAX_THREAD_MB:.0f}): {_verdict(memory_mb, MAX_THREAD_MB)}; "
        f"a late turn writes {write_kb:.1f} KB (at most {MAX_LATE_WRITE_KB:.0f}): "
        f"{_verdict(write_kb, MAX_LATE_WRITE_KB)}; {turn}."
    ]


@contextlib.contextmanager
def _baseline(ref: str | None, workdir: Path) -> Iterator[Baseline | None]:
    if ref is None:
        yield None
        return
    with exported(REPO, ref, workdir) as base:
        yield base


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--baseline", metavar="REF", help="also run the server from this commit")
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--threads", type=int, default=20, help="0: the one thread alone")
    parser.add_argument("--server-cores", default="0")
    parser.add_argument("--client-cores", default="1")
    parser.add_argument("--repo", type=Path, default=REPO)
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    args = parser.parse_args(argv)
    system = SYSTEMS["ours-redis"]
    with tempfile.TemporaryDirectory(prefix="bench-long-") as tmp:
        workdir = Path(tmp)
        with (
            standin(workdir, args.client_cores, "--tokens", "40", "--delay-ms", "0") as upstream,
            _baseline(args.baseline, workdir) as base,
        ):
            systems = [system] if base is None else [system, twin(system, base)]
            results = [measure(s, upstream, workdir, args) for s in systems]
    text = f"Tree: {describe_tree(args.repo)}\n\n" + report(results, args.turns, args.threads)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
