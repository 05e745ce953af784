"""The streaming benchmark: ours, ``langgraph dev``, Aegra and in-process floors, one upstream.

One invocation starts the OpenAI stand-in (``bench.openai_standin``) and, one after another,
each system under test, then runs every scenario against it with the load generator
(``bench.load``, its own process) and prints one markdown table:

- ``ours``: ``python -m app`` (``WORKERS=1``; ``ours-w2`` is ``WORKERS=2``), SQLite memory;
  ``ours-stock`` the same with ``MODEL_CLIENT=stock`` (langchain's ``ChatOpenAI``);
- with ``--baseline REF``, ``ours@base`` and ``ours-redis@base``: the same servers run from REF's
  tree (``bench.baseline``), each right after the system it mirrors, then a table of the two side
  by side (``make bench`` passes the tree before the run log, for issue 13);
- ``langgraph``: ``langgraph dev --n-jobs-per-worker 256`` on our ``langgraph.json``;
- ``aegra``: Aegra (``aegra-api``, ``bench.aegra``) on the same ``langgraph.json``, in a venv of
  its own made on first use (it needs Python 3.12), on a private PostgreSQL cluster the benchmark
  starts (``bench.postgres``), at ``c50`` (its stateless ``/runs/stream``) and ``lg50``; without
  Python 3.12 or PostgreSQL's binaries its rows say why and the others run;
- ``astream`` / ``fast`` / ``graph`` / ``raw``: langchain's ``ChatOpenAI.astream``, our
  ``FastChatOpenAI.astream``, the graph's ``astream`` and plain httpx + orjson, in process
  (``bench.floors``): what a token costs with no server at all.

Servers (and the in-process floors) are pinned to ``--server-cores``; the stand-in and the load
generator to ``--client-cores``, and so are redis-server and Aegra's PostgreSQL. CPU per token
is the server tree's utime + stime over a scenario divided by the tokens delivered (a store's
CPU is not in it: Redis's is in issue 13's table, PostgreSQL's in issue 20's line); RSS is the
tree's largest summed RSS, sampled.

Scenarios (``bench.scenarios``): ``single``, sequential replies with no delay; ``c<N>``, N streams
started at once; ``h<N>``, N streams held with steady arrivals; ``agent50``, tool-agent turns (one
calculator call each, then a short answer), 50 at once, on the servers only: ours and
``langgraph dev`` run the same graph version against the same stand-in, and CPU is counted per
turn; ``lg50`` (issues 15 and 20), c50 through the LangGraph server API on ours, ``langgraph
dev`` and Aegra (each stream a ``POST /threads``, then a ``messages-tuple`` run streamed on that
thread; not on the floors nor on the ``@base`` twins, whose trees may predate the API). The
tables and the issues' targets are printed by ``bench.report``. After each scenario on a Redis
system, ``bench.log_cost`` reads what the run log (issue 13) added in Redis and what redis-server
spent, and prints issue 13's lines: CPU per token at c50 with the log (``ours-redis``) and
without (``ours-redis@base`` from a tree before it), and Redis memory per finished run.

``--rounds N`` runs every system N times, alternating the order (a system and its twin take turns,
so that the machine's load drifts over both alike), and reports each row's median round by CPU per
token, with every round's figure.

``python -m bench.stream`` (about 11 minutes, plus Aegra's install the first time), ``--quick``
(about 4), ``--baseline main~3`` to add the baseline, ``--help`` for the rest; ``make bench-log``
for issue 13's figures alone.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

from bench.baseline import (
    MIRRORED,
    SUFFIX,
    Baseline,
    describe_tree,
    expand,
    exported,
    is_twin,
    twin,
)
from bench.children import REPO, standin
from bench.log_cost import log_table, log_targets
from bench.report import agent_table, row_figures, table, targets, versus
from bench.scenarios import QUICK_SCENARIOS, SCENARIO_NAMES, Row, run_system, scenarios
from bench.systems import DEFAULT_SYSTEMS, QUICK_SYSTEMS, SYSTEMS, System


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--systems",
        help=f"comma-separated, from {', '.join(SYSTEMS)} (default: {','.join(DEFAULT_SYSTEMS)}); "
        f"with --baseline, each of {', '.join(MIRRORED)} is followed by its @base twin",
    )
    parser.add_argument(
        "--scenarios",
        help=f"comma-separated, from {', '.join(SCENARIO_NAMES)}, run on every system named "
        f"(default: each system's own; with --quick, those among {','.join(QUICK_SCENARIOS)})",
    )
    parser.add_argument("--quick", action="store_true", help="fewer systems, shorter replies")
    parser.add_argument("--time-limit", type=float, default=45.0, help="seconds per scenario")
    parser.add_argument("--server-cores", default="0", help="taskset list for the servers")
    parser.add_argument(
        "--client-cores", default="1", help="taskset list for the stand-in and the load"
    )
    parser.add_argument("--repo", type=Path, default=REPO, help="source tree to run (a worktree)")
    parser.add_argument(
        "--baseline",
        metavar="REF",
        help="a commit, branch or tag of --repo: also run ours (and ours-redis) from that commit, "
        "same scenarios, beside this tree",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every system this many times, in turn (every other round in reverse order, "
        "so that a system and its twin alternate); each row is then the round with the median "
        "CPU per token",
    )
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.rounds < 1:
        sys.exit("--rounds must be at least 1")
    all_scenarios = scenarios(args.quick)
    if args.systems:
        names = [n.strip() for n in args.systems.split(",") if n.strip()]
    elif args.quick:
        names = list(QUICK_SYSTEMS)
    else:
        names = list(DEFAULT_SYSTEMS)
    unknown = [n for n in names if n not in SYSTEMS and not is_twin(n)]
    if unknown:
        sys.exit(f"unknown systems: {', '.join(unknown)}")
    names = expand(names, bool(args.baseline))
    if not args.baseline and (twins := [n for n in names if is_twin(n)]):
        sys.exit(f"{', '.join(twins)} need --baseline REF")
    chosen: list[str] | None = None
    if args.scenarios:
        chosen = [n.strip() for n in args.scenarios.split(",") if n.strip()]
        if bad := [n for n in chosen if n not in all_scenarios]:
            sys.exit(f"unknown scenarios: {', '.join(bad)}")
    elif args.quick:
        chosen = list(QUICK_SCENARIOS)

    repo = args.repo.resolve()
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "-m", "bench.stream", *given])
    rows: list[Row] = []
    started = time.monotonic()
    load_start = os.getloadavg()[0]
    base: Baseline | None = None
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        workdir = Path(tmp)
        with contextlib.ExitStack() as stack:
            if args.baseline:
                try:
                    base = stack.enter_context(exported(repo, args.baseline, workdir))
                except RuntimeError as exc:
                    sys.exit(f"--baseline {args.baseline}: {exc}")
                print(f"# baseline {base.short}: {base.subject}", file=sys.stderr, flush=True)
            systems = [_system(name, base) for name in names]
            upstream = stack.enter_context(standin(workdir, args.client_cores))
            for turn in range(args.rounds):
                for system in systems if turn % 2 == 0 else systems[::-1]:
                    wanted = [s for s in (chosen or system.scenarios) if s in system.scenarios]
                    if args.scenarios:  # named explicitly: run them even if not a default
                        wanted = chosen or []
                    todo = [all_scenarios[s] for s in wanted]
                    if not system.is_server:  # the floors stream a model: no graph, no threads
                        todo = [s for s in todo if not (s.agent or s.threads)]
                    if system.kind != "ours" or system.mirrors is not None:
                        # The front-end protocols are ours alone, and newer than the baselines.
                        todo = [s for s in todo if s.wire == "chat"]
                    if not todo:
                        continue
                    of = f" (round {turn + 1} of {args.rounds})" if args.rounds > 1 else ""
                    print(f"# {system.label}{of}", file=sys.stderr, flush=True)
                    run_system(system, todo, rows, args, repo, upstream, workdir)
    if args.rounds > 1:
        rows = _medians(rows, [system.name for system in systems])
    elapsed = time.monotonic() - started
    load_end = os.getloadavg()[0]
    source = f"This tree: {describe_tree(repo)}."
    if base:
        source += f" Baseline: {base.short} = `{base.ref}` ({base.subject})."
    report = "\n".join(
        [
            f"Command: `{command}`",
            "",
            source,
            "",
            f"Machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}; servers and in-process floors on cores "
            f"{args.server_cores}, the stand-in and the load generator on cores "
            f"{args.client_cores}; run took {elapsed:.0f} s; load average (1 min) "
            f"{load_start:.2f} at the start, {load_end:.2f} at the end (other work on the "
            "machine shows up as noise in every figure).",
            "",
            *(f"{part}\n" for part in (table(rows), agent_table(rows)) if part),
            *_rounds(rows),
            *_against(base, rows),
            *_log(rows),
            *(part for part in (targets(rows), log_targets(rows)) if part),
        ]
    )
    print(report)
    if args.markdown:
        args.markdown.write_text(report + "\n")


def _system(name: str, base: Baseline | None) -> System:
    if base is not None and is_twin(name):
        return twin(SYSTEMS[name.removesuffix(SUFFIX)], base)
    return SYSTEMS[name]


def _medians(rows: list[Row], order: list[str]) -> list[Row]:
    """One row per system and scenario, in ``order``: the round with the median CPU per token
    (the lower one of an even count), holding every round's figure in ``rounds``."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.system.name, row.scenario.name), []).append(row)
    out = []
    for _key, group in sorted(groups.items(), key=lambda kv: order.index(kv[0][0])):
        ran = [(cpu, row) for row in group if (cpu := row_figures(row)["cpu_us"]) is not None]
        ran.sort(key=lambda pair: pair[0])
        middle = ran[(len(ran) - 1) // 2][1] if ran else group[0]
        middle.rounds = [row_figures(row)["cpu_us"] for row in group]
        out.append(middle)
    return out


def _rounds(rows: list[Row]) -> list[str]:
    """With --rounds, each row's CPU per token in every round, in the order they ran."""
    spread = [row for row in rows if len(row.rounds) > 1]
    if not spread:
        return []
    lines = [
        f"Each row above is the median of {len(spread[0].rounds)} rounds by CPU per token; "
        "every round's figure, in the order they ran:",
        "",
        "| system | scenario | CPU us/tok by round |",
        "|---|---|---|",
    ]
    for row in spread:
        figures = ", ".join("failed" if cpu is None else f"{cpu:.0f}" for cpu in row.rounds)
        lines.append(f"| {row.system.label} | {row.scenario.name} | {figures} |")
    return [*lines, ""]


def _log(rows: list[Row]) -> list[str]:
    """Issue 13's section: what the run log costs redis-server and holds there."""
    logs = log_table(rows)
    if not logs:
        return []
    return [
        "The run log in Redis (issue 13), after each scenario on a Redis system: redis-server's "
        "CPU and commands over the scenario (its warm-up included) per token delivered; frames "
        "per log write is XADDs per PEXPIRE (the writer sends one PEXPIRE per write; the "
        "ledger's claim renewals add a few); then the logs the scenario added (a tree without "
        "the log adds none). Bytes are `MEMORY USAGE` of a sample of the finished runs of the "
        "commonest length (the scenario's replies, not its warm-up ones); a frame is one log "
        "entry.",
        "",
        logs,
        "",
    ]


def _against(base: Baseline | None, rows: list[Row]) -> list[str]:
    """The baseline section of the report: each twin's rows beside this tree's."""
    if base is None:
        return []
    compared = versus(rows)
    if not compared:
        return [f"Baseline {base.short}: no scenario ran on both it and this tree.", ""]
    return [
        f"This tree against the baseline, {base.short} (`{base.ref}`), same scenarios; a ratio "
        "is this tree / baseline (below 1: this tree spends less):",
        "",
        compared,
        "",
    ]


if __name__ == "__main__":
    main()
