"""The scenarios of ``bench.stream``, and running them against a system: servers through the load
generator (``bench.load``), in-process floors through ``bench.floors``, each its own process."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import redis

from bench.children import REPO, Process, RedisProcess, clean_env, pinned
from bench.load import THREAD_ASSISTANTS, THREAD_RUN_BODY, ProcessTree
from bench.log_cost import log_memory, redis_counters
from bench.postgres import PostgresProcess
from bench.systems import System, server


@dataclass(frozen=True)
class Scenario:
    name: str
    concurrency: int
    requests: int
    tokens: int
    delay_ms: float
    ramp: float = 0.0  # seconds over which the first streams start
    agent: bool = False  # tool-agent turns, one tool call each, instead of streaming-chat replies
    # The LangGraph server API (issue 15): each stream a POST /threads, then a messages-tuple
    # run streamed on that thread.
    threads: bool = False
    # The front-end protocols (issue 21): "aisdk" (POST /api/chat, the AI SDK's UI message
    # stream) or "agui" (POST /ag-ui); each stream on a new thread, as c<N>'s are.
    wire: str = "chat"

    def describe(self) -> str:
        reply = f"{self.tokens} tok @ {self.delay_ms:g} ms"
        if self.wire != "chat":
            api = {"aisdk": "AI SDK UI message stream", "agui": "AG-UI"}[self.wire]
            return f"{self.concurrency} streams x {reply}, {api}, each on a new thread"
        if self.threads:
            return (
                f"{self.concurrency} streams x {reply}, LangGraph API, messages-tuple, each on a "
                "new thread (POST /threads: not timed, its CPU counted)"
            )
        if self.agent:
            return f"{self.concurrency} tool-agent turns at once, 1 tool call each, answer {reply}"
        if self.name == "single":
            return f"{self.requests} x 1 stream, {reply}"
        if self.ramp:
            return (
                f"{self.concurrency} streams held ({self.requests} x {reply}, "
                f"starts over {self.ramp:g} s)"
            )
        return f"{self.concurrency} streams x {reply}"


def scenarios(quick: bool) -> dict[str, Scenario]:
    """c<N>: N streams started at once; h<N>: N streams held, each of N workers running three in
    a row, their first starts spread over one stream's length (steady arrivals); agent<N>: N
    tool-agent turns started at once, each a tool call then a short answer (figures per turn);
    lg<N>: c<N> through the LangGraph server API, each stream creating its thread first; ai<N>
    and agui<N>: c<N> through the AI SDK's and AG-UI's protocols."""
    tokens = 50 if quick else 200
    ramp = tokens * 20 / 1000
    return {
        s.name: s
        for s in (
            Scenario("single", 1, 5 if quick else 20, 200, 0),
            Scenario("c1", 1, 1 if quick else 3, tokens, 20),
            Scenario("c50", 50, 50, tokens, 20),
            Scenario("c200", 200, 200, tokens, 20),
            Scenario("c500", 500, 500, tokens, 20),
            Scenario("h150", 150, 450, tokens, 20, ramp=ramp),
            Scenario("h200", 200, 600, tokens, 20, ramp=ramp),
            Scenario("agent50", 50, 50, 20, 20, agent=True),
            Scenario("lg50", 50, 50, tokens, 20, threads=True),
            Scenario("ai50", 50, 50, tokens, 20, wire="aisdk"),
            Scenario("agui50", 50, 50, tokens, 20, wire="agui"),
        )
    }


SCENARIO_NAMES = tuple(scenarios(quick=False))
QUICK_SCENARIOS = (
    "single",
    "c1",
    "c50",
    "c200",
    "h150",
    "h200",
    "agent50",
    "lg50",
    "ai50",
    "agui50",
)


@dataclass
class Row:
    system: System
    scenario: Scenario
    result: dict[str, Any] | None = None
    failure: str | None = None
    log: dict[str, Any] | None = None  # the run logs the scenario left in Redis (bench.log_cost)
    rounds: list[float | None] = field(default_factory=list)  # CPU us/tok of each, --rounds


def run_json(argv: list[str], timeout: float, cwd: Path, pythonpath: str) -> dict[str, Any]:
    """Run ``argv`` and parse the JSON summary on the last line of its output."""
    done = subprocess.run(
        argv,
        capture_output=True,
        timeout=timeout,
        cwd=cwd,
        env=clean_env(PYTHONPATH=pythonpath),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace")[-2000:])
    result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    return result


def scenario_args(scenario: Scenario, upstream: str, time_limit: float) -> list[str]:
    return [
        "-c",
        str(scenario.concurrency),
        "-n",
        str(scenario.requests),
        "--time-limit",
        str(time_limit),
        "--upstream",
        upstream,
        "--tokens",
        str(scenario.tokens),
        "--delay-ms",
        str(scenario.delay_ms),
        "--ramp",
        str(scenario.ramp),
        "--warmup",
        "5",
        "--json",
        *(["--agent"] if scenario.agent else []),
    ]


def _load_target(url: str, system: System, scenario: Scenario) -> list[str]:
    """The load generator's URL, format and body for ``scenario`` on ``system``: on a threads
    scenario, the server's root, the LangGraph frames and the assistant this system knows."""
    if scenario.wire != "chat":
        parts = urlsplit(url)
        path = {"aisdk": "/api/chat", "agui": "/ag-ui"}[scenario.wire]
        return [f"{parts.scheme}://{parts.netloc}{path}", "--format", scenario.wire]
    if not scenario.threads:
        return [url, "--format", "ours" if system.kind == "ours" else "langgraph"]
    parts = urlsplit(url)
    body = {**THREAD_RUN_BODY, "assistant_id": THREAD_ASSISTANTS[system.kind]}
    return [
        f"{parts.scheme}://{parts.netloc}",
        "--format",
        "langgraph",
        "--threads",
        "--body",
        orjson.dumps(body).decode(),
    ]


def run_load(
    process: Process,
    url: str,
    system: System,
    scenario: Scenario,
    *,
    upstream: str,
    time_limit: float,
    cores: str | None,
    workdir: Path,
) -> dict[str, Any]:
    argv = pinned(
        cores,
        [
            sys.executable,
            "-m",
            "bench.load",
            *_load_target(url, system, scenario),
            "--watch-pid",
            str(process.pid),
            *scenario_args(scenario, upstream, time_limit),
        ],
    )
    return run_json(argv, time_limit + 120, workdir, str(REPO))


def run_floor(
    system: System,
    scenario: Scenario,
    *,
    repo: Path,
    upstream: str,
    time_limit: float,
    cores: str | None,
    workdir: Path,
) -> dict[str, Any]:
    argv = pinned(
        cores,
        [
            sys.executable,
            "-m",
            "bench.floors",
            "--mode",
            system.kind,
            "--base-url",
            f"{upstream}/v1",
            *scenario_args(scenario, upstream, time_limit),
        ],
    )
    return run_json(argv, time_limit + 120, workdir, f"{repo}{os.pathsep}{REPO}")


def run_system(
    system: System,
    todo: list[Scenario],
    rows: list[Row],
    args: argparse.Namespace,
    repo: Path,
    upstream: str,
    workdir: Path,
) -> None:
    """Run ``todo`` against ``system`` (one server start for them all), appending to ``rows``."""
    if system.is_server:
        try:
            with server(system, repo, upstream, workdir, args.server_cores, args.client_cores) as (
                process,
                url,
                store,
            ):
                seen: set[bytes] = set()  # run logs already counted
                for scenario in todo:
                    run = partial(
                        run_load,
                        process,
                        url,
                        system,
                        scenario,
                        upstream=upstream,
                        time_limit=args.time_limit,
                        cores=args.client_cores,
                        workdir=workdir,
                    )
                    if isinstance(store, PostgresProcess):
                        rows.append(_attempt(system, scenario, partial(_with_database, run, store)))
                        continue
                    if store is None:
                        rows.append(_attempt(system, scenario, run))
                        continue
                    row = _attempt(system, scenario, partial(_with_redis, run, store))
                    if row.result is not None:
                        row.log = _log_memory(store, seen)
                    rows.append(row)
        except RuntimeError as exc:
            rows.extend(Row(system, s, failure=str(exc).splitlines()[0]) for s in todo)
            print(exc, file=sys.stderr)
        return
    for scenario in todo:
        run = partial(
            run_floor,
            system,
            scenario,
            repo=repo,
            upstream=upstream,
            time_limit=args.time_limit,
            cores=args.server_cores,
            workdir=workdir,
        )
        rows.append(_attempt(system, scenario, run))


def _with_redis(run: Callable[[], dict[str, Any]], store: RedisProcess) -> dict[str, Any]:
    """``run()``'s result, with the CPU seconds redis-server spent meanwhile and the commands it
    ran (the scenario's warm-up included: a few short streams)."""
    assert store.process is not None
    tree = ProcessTree(store.process.pid)
    before, counted = tree.cpu_seconds(), redis_counters(store.url)
    result = run()
    result["redis_cpu"] = tree.cpu_seconds() - before
    after = redis_counters(store.url)
    result["redis_commands"] = {name: n - counted.get(name, 0) for name, n in after.items()}
    return result


def _with_database(run: Callable[[], dict[str, Any]], store: PostgresProcess) -> dict[str, Any]:
    """``run()``'s result, with the CPU seconds the PostgreSQL cluster spent meanwhile (the
    scenario's warm-up included)."""
    before = store.cpu_seconds()
    result = run()
    result["database_cpu"] = store.cpu_seconds() - before
    return result


def _log_memory(store: RedisProcess, seen: set[bytes]) -> dict[str, Any] | None:
    try:
        return log_memory(store.url, seen)
    except redis.RedisError as exc:
        print(f"  run log memory not read: {exc}", file=sys.stderr)
        return None


def _attempt(system: System, scenario: Scenario, run: Callable[[], dict[str, Any]]) -> Row:
    print(f"  {scenario.name} ...", file=sys.stderr, flush=True)
    try:
        return Row(system, scenario, result=run())
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"  {scenario.name} failed: {exc}", file=sys.stderr)
        return Row(system, scenario, failure=str(exc).splitlines()[0][:80])
