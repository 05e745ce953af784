"""The streaming benchmark: our server, ``langgraph dev`` and in-process floors, one upstream.

One invocation starts the OpenAI stand-in (``bench.openai_standin``) and, one after another,
each system under test, then runs every scenario against it with the load generator
(``bench.load``, its own process) and prints one markdown table:

- ``ours``: ``python -m app`` (``WORKERS=1``; ``ours-w2`` is ``WORKERS=2``), SQLite memory;
- ``langgraph``: ``langgraph dev --n-jobs-per-worker 256`` on our ``langgraph.json``;
- ``astream`` / ``fast`` / ``graph`` / ``raw``: langchain's ``ChatOpenAI.astream``, our
  ``FastChatOpenAI.astream``, the graph's ``astream`` and plain httpx + orjson, in process
  (``bench.floors``): what a token costs with no server at all.

Servers (and the in-process floors) are pinned to ``--server-cores``; the stand-in and the load
generator to ``--client-cores``. CPU per token is the server tree's utime + stime over a
scenario divided by the tokens delivered; RSS is the tree's largest summed RSS, sampled.

``python -m bench.stream`` (about 5 minutes), ``--quick`` (about 1), ``--help`` for the rest.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.load import ProcessTree, percentile
from bench.processes import stop_process

REPO = Path(__file__).resolve().parents[1]

# Settings a developer's shell could leak into the servers under test.
_SCRUB = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "REDIS_URL",
    "HOST",
    "PORT",
    "WORKERS",
    "SQLITE_PATH",
    "LOG_LEVEL",
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "LANGCHAIN_TRACING_V2",
    "API_KEYS",
    "ON_DISCONNECT",
    "MULTITASK",
    "CORS_ORIGINS",
)


@dataclass(frozen=True)
class Scenario:
    name: str
    concurrency: int
    requests: int
    tokens: int
    delay_ms: float
    ramp: float = 0.0  # seconds over which the first streams start

    def describe(self) -> str:
        reply = f"{self.tokens} tok @ {self.delay_ms:g} ms"
        if self.name == "single":
            return f"{self.requests} x 1 stream, {reply}"
        if self.ramp:
            return (
                f"{self.concurrency} streams held ({self.requests} x {reply}, "
                f"starts over {self.ramp:g} s)"
            )
        return f"{self.concurrency} streams x {reply}"


@dataclass(frozen=True)
class System:
    name: str
    label: str
    kind: str  # "ours", "langgraph" or a bench.floors mode
    workers: int = 1
    scenarios: tuple[str, ...] = ("single", "c1", "c50", "c200", "c500")  # by default


SYSTEMS = {
    s.name: s
    for s in (
        System(
            "ours",
            "ours (python -m app)",
            "ours",
            scenarios=("single", "c1", "c50", "c200", "c500", "h200"),
        ),
        System(
            "ours-w2",
            "ours, WORKERS=2",
            "ours",
            workers=2,
            scenarios=("c50", "c200", "c500", "h200"),
        ),
        System("langgraph", "langgraph dev (n-jobs 256)", "langgraph"),
        System("astream", "ChatOpenAI.astream, in-process", "astream"),
        System("fast", "FastChatOpenAI.astream, in-process", "fast"),
        System("graph", "graph.astream(messages), in-process", "graph"),
        System("raw", "raw httpx + orjson, in-process", "raw"),
    )
}
DEFAULT_SYSTEMS = ("ours", "ours-w2", "langgraph", "astream", "fast", "raw")


def scenarios(quick: bool) -> dict[str, Scenario]:
    """c<N>: N streams started at once; h200: 200 streams held, each of 200 workers running
    three in a row, their first starts spread over one stream's length (steady arrivals)."""
    tokens = 50 if quick else 200
    return {
        s.name: s
        for s in (
            Scenario("single", 1, 5 if quick else 20, 200, 0),
            Scenario("c1", 1, 1 if quick else 3, tokens, 20),
            Scenario("c50", 50, 50, tokens, 20),
            Scenario("c200", 200, 200, tokens, 20),
            Scenario("c500", 500, 500, tokens, 20),
            Scenario("h200", 200, 600, tokens, 20, ramp=tokens * 20 / 1000),
        )
    }


# --- Processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cores: str | None, argv: list[str]) -> list[str]:
    if cores and shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", cores, *argv]
    return argv


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(extra)
    return env


class Process:
    """A child process with its output in a log file; stopped by its pid (and its tree's)."""

    def __init__(self, name: str, argv: list[str], *, env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.log_path = cwd / f"{name}.log"
        self._log = self.log_path.open("wb")
        # Its own session: a Ctrl-C here reaches only us, and we stop it in order.
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        tree = ProcessTree(self.pid).pids() if self.alive() else []
        stop_process(self.popen, grace=15)
        for pid in tree[1:]:  # workers the parent did not take down with it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._log.close()


def wait_ready(process: Process, url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited:\n{process.log_tail()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{process.name} was not ready in {timeout:.0f} s:\n{process.log_tail()}")


@contextlib.contextmanager
def standin(workdir: Path, cores: str | None) -> Iterator[str]:
    """The OpenAI stand-in; yields its root URL (the API is under ``/v1``)."""
    port = free_port()
    process = Process(
        "standin",
        pinned(cores, [sys.executable, "-m", "bench.openai_standin", "--port", str(port)]),
        env=clean_env(PYTHONPATH=str(REPO)),
        cwd=workdir,
    )
    try:
        deadline = time.monotonic() + 30
        while "OpenAI stand-in on" not in process.log_path.read_text(errors="replace"):
            if not process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the stand-in did not start:\n{process.log_tail()}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


@contextlib.contextmanager
def server(
    system: System, repo: Path, upstream: str, workdir: Path, cores: str
) -> Iterator[tuple[Process, str]]:
    """Start a server under test; yields it and its streaming URL."""
    port = free_port()
    home = workdir / system.name
    home.mkdir()
    common = {"OPENAI_API_KEY": "bench", "OPENAI_BASE_URL": f"{upstream}/v1"}
    if system.kind == "ours":
        env = clean_env(
            **common,
            HOST="127.0.0.1",
            PORT=str(port),
            WORKERS=str(system.workers),
            SQLITE_PATH=str(home / "checkpoints.sqlite"),
            LOG_LEVEL="warning",
            PYTHONPATH=str(repo),
        )
        # cwd is a scratch directory so that no .env of the developer's is read.
        argv = pinned(cores, [sys.executable, "-m", "app"])
        ready, stream = f"http://127.0.0.1:{port}/health", f"http://127.0.0.1:{port}/stream"
    else:
        # langgraph dev resolves graph paths against its cwd and writes .langgraph_api there.
        (home / "graphs").symlink_to(repo / "graphs")
        shutil.copy(repo / "langgraph.json", home / "langgraph.json")
        env = clean_env(
            **common,
            LANGSMITH_TRACING="false",
            LANGGRAPH_CLI_NO_ANALYTICS="1",
            PYTHONPATH=str(repo),
        )
        cli = str(Path(sys.executable).with_name("langgraph"))
        argv = pinned(
            cores,
            [
                cli,
                "dev",
                "--config",
                "langgraph.json",
                "--no-browser",
                "--no-reload",
                "--port",
                str(port),
                "--n-jobs-per-worker",
                "256",
                "--server-log-level",
                "WARNING",
            ],
        )
        ready, stream = f"http://127.0.0.1:{port}/ok", f"http://127.0.0.1:{port}/runs/stream"
    process = Process(system.name, argv, env=env, cwd=home)
    try:
        wait_ready(process, ready)
        yield process, stream
    finally:
        process.stop()


# --- Running a scenario -----------------------------------------------------------------------


@dataclass
class Row:
    system: System
    scenario: Scenario
    result: dict[str, Any] | None = None
    failure: str | None = None


def run_json(argv: list[str], timeout: float, cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        argv,
        capture_output=True,
        timeout=timeout,
        cwd=cwd,
        env=clean_env(PYTHONPATH=str(REPO)),
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
            url,
            "--format",
            "ours" if system.kind == "ours" else "langgraph",
            "--watch-pid",
            str(process.pid),
            *scenario_args(scenario, upstream, time_limit),
        ],
    )
    return run_json(argv, time_limit + 120, workdir)


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
    done = subprocess.run(
        argv,
        capture_output=True,
        timeout=time_limit + 120,
        cwd=workdir,
        env=clean_env(PYTHONPATH=f"{repo}{os.pathsep}{REPO}"),
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace")[-2000:])
    result: dict[str, Any] = orjson.loads(done.stdout.splitlines()[-1])
    return result


# --- The table --------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f}" if value < 1 else f"{value * 1000:.0f}"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def row_figures(row: Row) -> dict[str, float | None]:
    r = row.result or {}
    tokens = r.get("tokens") or 0
    wall = r.get("wall") or 0.0
    cpu = r.get("cpu")
    return {
        "ttft_p50": percentile(r.get("ttft", []), 50),
        "ttft_p99": percentile(r.get("ttft", []), 99),
        "gap_p99": percentile(r.get("max_gap", []), 99),
        "total_p50": percentile(r.get("total", []), 50),
        "tok_s": tokens / wall if wall else None,
        "cpu_us": cpu / tokens * 1e6 if cpu is not None and tokens else None,
        "rss_mb": r["rss_peak"] / 2**20 if r.get("rss_peak") else None,
        "bytes": r["wire_bytes"] / tokens if r.get("wire_bytes") and tokens else None,
        "client_pct": r.get("client_cpu", 0.0) / wall * 100 if wall else None,
    }


HEADER = (
    "| system | scenario | ok | TTFT p50 ms | TTFT p99 ms | gap p99 ms | total p50 ms | tok/s "
    "| CPU us/tok | peak RSS MB | wire B/tok | client CPU % | errors |"
)


def table(rows: list[Row]) -> str:
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for row in rows:
        name = f"{row.system.label}"
        what = row.scenario.describe()
        if row.result is None:
            lines.append(f"| {name} | {what} | failed: {row.failure} |" + " |" * 10)
            continue
        f = row_figures(row)
        r = row.result
        errors = ", ".join(f"{k} {v}" for k, v in sorted(r["errors"].items())) or "0"
        floor = row.system.kind not in ("ours", "langgraph")
        lines.append(
            f"| {name} | {what} | {r['ok']}/{r['streams']} | {_ms(f['ttft_p50'])} "
            f"| {_ms(f['ttft_p99'])} | {_ms(f['gap_p99'])} | {_ms(f['total_p50'])} "
            f"| {_num(f['tok_s'])} | {_num(f['cpu_us'])} | {_num(f['rss_mb'])} "
            f"| {'-' if floor else _num(f['bytes'], 1)} | {_num(f['client_pct'])} | {errors} |"
        )
    return "\n".join(lines)


def _find(rows: list[Row], system: str, scenario: str) -> dict[str, float | None] | None:
    for row in rows:
        if row.system.name == system and row.scenario.name == scenario and row.result:
            return row_figures(row)
    return None


def _errors(rows: list[Row], system: str, scenario: str) -> int | None:
    for row in rows:
        if row.system.name == system and row.scenario.name == scenario and row.result:
            return sum(row.result["errors"].values())
    return None


def targets(rows: list[Row]) -> str:
    """The issue's targets, each with the figure this run reached."""
    out = []

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("met" if ok else "NOT met")

    ours50, lg50 = _find(rows, "ours", "c50"), _find(rows, "langgraph", "c50")
    if ours50 and ours50["cpu_us"] is not None:
        cpu = ours50["cpu_us"]
        ratio = lg50["cpu_us"] / cpu if lg50 and lg50["cpu_us"] else None
        ok = cpu <= 200 and (ratio is None or ratio >= 2.5)
        text = f"{cpu:.0f} us/token" + (f", {ratio:.1f}x less than langgraph dev" if ratio else "")
        out.append(
            f"- CPU per token at 50 streams <= 200 us and >= 2.5x below langgraph dev: {text}: "
            f"{verdict(ok)}; stretch <= 100 us: {verdict(cpu <= 100)}"
        )
    for scenario, how in (("h200", "held, steady arrivals"), ("c200", "all started at once")):
        held = _find(rows, "ours", scenario)
        if held is None:
            continue
        errors = _errors(rows, "ours", scenario)
        gap, ttft = held["gap_p99"], held["ttft_p99"]
        ok = gap is not None and ttft is not None and gap <= 0.1 and ttft <= 0.25 and errors == 0
        out.append(
            f"- one process holds >= 150 streams (200, {how}) with p99 gap <= 100 ms, p99 TTFT "
            f"<= 250 ms, no errors: gap {_ms(gap)} ms, TTFT {_ms(ttft)} ms, {errors} errors: "
            f"{verdict(ok)}"
        )
    ours200 = _find(rows, "ours", "c200")
    if ours200:
        rss = ours200["rss_mb"]
        out.append(
            f"- peak RSS at 200 streams <= 150 MB: {_num(rss)} MB: "
            f"{verdict(None if rss is None else rss <= 150)}"
        )
    ours1, floor1 = _find(rows, "ours", "single"), _find(rows, "astream", "single")
    if ours1 and floor1 and ours1["ttft_p50"] is not None and floor1["ttft_p50"] is not None:
        added = (ours1["ttft_p50"] - floor1["ttft_p50"]) * 1000
        out.append(
            f"- added TTFT over in-process ChatOpenAI.astream at concurrency 1 <= 3 ms p50: "
            f"{added:.1f} ms ({_ms(ours1['ttft_p50'])} vs {_ms(floor1['ttft_p50'])} ms): "
            f"{verdict(added <= 3)}"
        )
    wire = [
        (row.scenario.name, row_figures(row)["bytes"])
        for row in rows
        if row.system.name == "ours" and row.result
    ]
    if wire:
        shown = ", ".join(f"{name} {value:.1f}" for name, value in wire if value is not None)
        worst = max((v for _, v in wire if v is not None), default=None)
        out.append(
            f"- wire bytes per token <= 60 (socket bytes: headers, HTTP chunk framing, the "
            f"final frame): {shown}: {verdict(None if worst is None else worst <= 60)}"
        )
    return "\n".join(out)


# --- Main -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--systems",
        help=f"comma-separated, from {', '.join(SYSTEMS)} (default: {','.join(DEFAULT_SYSTEMS)})",
    )
    parser.add_argument(
        "--scenarios", help="comma-separated, from single, c1, c50, c200, c500 (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="fewer systems, shorter replies")
    parser.add_argument("--time-limit", type=float, default=45.0, help="seconds per scenario")
    parser.add_argument("--server-cores", default="0", help="taskset list for the servers")
    parser.add_argument(
        "--client-cores", default="1", help="taskset list for the stand-in and the load"
    )
    parser.add_argument("--repo", type=Path, default=REPO, help="source tree to run (a worktree)")
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    all_scenarios = scenarios(args.quick)
    if args.systems:
        names = [n.strip() for n in args.systems.split(",") if n.strip()]
    elif args.quick:
        names = ["ours", "langgraph", "astream", "fast", "raw"]
    else:
        names = list(DEFAULT_SYSTEMS)
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        sys.exit(f"unknown systems: {', '.join(unknown)}")
    chosen: list[str] | None = None
    if args.scenarios:
        chosen = [n.strip() for n in args.scenarios.split(",") if n.strip()]
        if bad := [n for n in chosen if n not in all_scenarios]:
            sys.exit(f"unknown scenarios: {', '.join(bad)}")
    elif args.quick:
        chosen = ["single", "c1", "c50", "c200", "h200"]

    repo = args.repo.resolve()
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "bench.stream", *given])
    rows: list[Row] = []
    started = time.monotonic()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        workdir = Path(tmp)
        with standin(workdir, args.client_cores) as upstream:
            for name in names:
                system = SYSTEMS[name]
                wanted = [s for s in (chosen or system.scenarios) if s in system.scenarios]
                if args.scenarios:  # named explicitly: run them even if not a default
                    wanted = chosen or []
                todo = [all_scenarios[s] for s in wanted]
                if not todo:
                    continue
                print(f"# {system.label}", file=sys.stderr, flush=True)
                run_system(system, todo, rows, args, repo, upstream, workdir)
    elapsed = time.monotonic() - started
    load_end = os.getloadavg()[0]
    report = "\n".join(
        [
            f"Command: `{command}`",
            "",
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; servers and in-process floors on cores "
            f"{args.server_cores}, the stand-in and the load generator on cores "
            f"{args.client_cores}; run took {elapsed:.0f} s; load average (1 min) "
            f"{load_start:.2f} at the start, {load_end:.2f} at the end (other work on the "
            "machine shows up as noise in every figure).",
            "",
            table(rows),
            "",
            targets(rows),
        ]
    )
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n")


def run_system(
    system: System,
    todo: list[Scenario],
    rows: list[Row],
    args: argparse.Namespace,
    repo: Path,
    upstream: str,
    workdir: Path,
) -> None:
    if system.kind in ("ours", "langgraph"):
        try:
            with server(system, repo, upstream, workdir, args.server_cores) as (process, url):
                for scenario in todo:
                    rows.append(
                        _attempt(
                            system,
                            scenario,
                            lambda s=scenario: run_load(
                                process,
                                url,
                                system,
                                s,
                                upstream=upstream,
                                time_limit=args.time_limit,
                                cores=args.client_cores,
                                workdir=workdir,
                            ),
                        )
                    )
        except RuntimeError as exc:
            rows.extend(Row(system, s, failure=str(exc).splitlines()[0]) for s in todo)
            print(exc, file=sys.stderr)
        return
    for scenario in todo:
        rows.append(
            _attempt(
                system,
                scenario,
                lambda s=scenario: run_floor(
                    system,
                    s,
                    repo=repo,
                    upstream=upstream,
                    time_limit=args.time_limit,
                    cores=args.server_cores,
                    workdir=workdir,
                ),
            )
        )


def _attempt(system: System, scenario: Scenario, run: Any) -> Row:
    print(f"  {scenario.name} ...", file=sys.stderr, flush=True)
    try:
        return Row(system, scenario, result=run())
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"  {scenario.name} failed: {exc}", file=sys.stderr)
        return Row(system, scenario, failure=str(exc).splitlines()[0][:80])


if __name__ == "__main__":
    main()
