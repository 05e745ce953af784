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

Scenarios (``bench.scenarios``): ``single``, sequential replies with no delay; ``c<N>``, N streams
started at once; ``h<N>``, N streams held with steady arrivals. The table and the issue's targets
are printed by ``bench.report``.

``python -m bench.stream`` (about 9 minutes), ``--quick`` (about 4), ``--help`` for the rest.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

from bench.children import REPO, standin
from bench.report import table, targets
from bench.scenarios import QUICK_SCENARIOS, SCENARIO_NAMES, Row, run_system, scenarios
from bench.systems import DEFAULT_SYSTEMS, QUICK_SYSTEMS, SYSTEMS


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
    parser.add_argument("--markdown", type=Path, help="also write the report to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    all_scenarios = scenarios(args.quick)
    if args.systems:
        names = [n.strip() for n in args.systems.split(",") if n.strip()]
    elif args.quick:
        names = list(QUICK_SYSTEMS)
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
        chosen = list(QUICK_SCENARIOS)

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


if __name__ == "__main__":
    main()
