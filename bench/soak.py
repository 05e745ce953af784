"""Soak: concurrent streams with disconnects, cancels, double-sends and a Redis restart.

One invocation starts, as subprocesses on free loopback ports, a redis-server (append-only, so
that a restart keeps thread memory, as in docker-compose.yml), the OpenAI stand-in and two
replicas of ``python -m app`` on that Redis: the server, and a second replica that only serves
rejoins. ``--concurrency`` clients then loop over chat turns on the server, each on threads of its
own with a userId of its own, first for a warm-up and then for ``--seconds``:

- a tenth of the clients (chosen at random, seeded) leave each stream after a few chunks;
- a tenth ``POST /cancel/{requestId}`` after a few chunks;
- a tenth send a second request on their thread while the first runs (409 ``thread_busy``, or
  with ``--multitask enqueue`` a turn that waits its turn);
- a tenth drop their connection after a few chunks and rejoin with
  ``GET /stream/{requestId}?userId=...`` and ``Last-Event-ID`` (the last frame id they read),
  half on the server (which replays the run from memory), half on the second replica (which
  reads the run's log in Redis); a rejoin that fails (the outage) is tried again from the last
  id read, at most 8 times, a second apart (``bench.soak_rejoin``);
- the rest read every stream to its end.

Halfway through, Redis is stopped for ``--outage`` seconds and started again (with ``--cluster``,
on a Redis Cluster of three masters with a replica each, a master is killed, its replica takes
over, and the node comes back as a replica). Afterwards the
script checks that no request got a 5xx other than the 503s of the outage, that every thread's
history is what its client saw (:func:`check_thread`), that every rejoining client read frame ids
1, 2, ... up to its terminal frame's across its connections, none lost, none twice, with a
``final`` text equal to its chunks (and reached the end, but in the outage window), and that the
server's RSS after an idle pause is within 20% of its warm baseline. It prints one markdown
summary and exits 1 if a check failed.

``python -m bench.soak`` (about 2 minutes), ``--quick`` (about 45 s), ``--help`` for the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.load import ProcessTree, use_uvloop
from bench.soak_checks import check_histories
from bench.soak_clients import Soak, drive
from bench.soak_rejoin import check_rejoins
from bench.soak_report import report
from bench.soak_system import processes


async def soak_run(args: argparse.Namespace, workdir: Path) -> tuple[list[str], bool]:
    with processes(args, workdir) as (store, server, other):
        tree, other_tree = ProcessTree(server.process.pid), ProcessTree(other.process.pid)
        soak = Soak(args, server.url, other=other.url)
        await drive(soak, "warm", args.warmup, None, tree)
        await asyncio.sleep(args.idle)
        rss = {"baseline": tree.rss_bytes() // 1024}
        server_cpu, own = tree.cpu_seconds(), resource.getrusage(resource.RUSAGE_SELF)
        other_cpu = other_tree.cpu_seconds()
        wall = time.monotonic()
        rss["peak"] = await drive(soak, "soak", args.seconds, store, tree)
        after = resource.getrusage(resource.RUSAGE_SELF)
        soak.cpu = {
            "wall": time.monotonic() - wall,
            "server": tree.cpu_seconds() - server_cpu,
            "other": other_tree.cpu_seconds() - other_cpu,
            "client": after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime,
        }
        await asyncio.sleep(args.idle)
        rss["end"] = tree.rss_bytes() // 1024
        rss["peak"] = max(rss["peak"], rss["end"])
        threads, problems, lost = await check_histories(soak)
        rejoined = check_rejoins(soak)
        logs = {"server": server.process.log(), "replica": other.process.log()}
        if args.logs is not None:
            args.logs.mkdir(parents=True, exist_ok=True)
            for name in ("server", "replica", "standin", "redis"):
                if (workdir / f"{name}.log").exists():  # a cluster's nodes keep no log file
                    shutil.copy(workdir / f"{name}.log", args.logs / f"{name}.log")
    return report(soak, rss, threads, problems, lost, rejoined, logs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=300)
    parser.add_argument(
        "--warmup", type=float, default=15.0, help="seconds of load before the baseline"
    )
    parser.add_argument(
        "--idle", type=float, default=5.0, help="seconds idle before an RSS reading"
    )
    parser.add_argument("--outage", type=float, default=3.0, help="seconds Redis stays down")
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--turns-per-thread", type=int, default=6)
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--multitask", choices=("reject", "enqueue"), default="reject")
    parser.add_argument("--backoff", type=float, default=0.25, help="seconds after a refusal")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="15 s, 60 clients, 5 s warm-up")
    parser.add_argument("--record", type=Path, help="also write the summary to this file")
    parser.add_argument("--logs", type=Path, help="copy the processes' logs to this directory")
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="a Redis Cluster (three masters, a replica each) instead of one Redis; the outage "
        "is then a master killed and failed over",
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.concurrency, args.warmup = 15.0, 60, 5.0
    command = shlex.join(["python", "-m", "bench.soak", *sys.argv[1:]])
    use_uvloop()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        lines, ok = asyncio.run(soak_run(args, Path(tmp)))
    text = "\n".join([f"`{command}`", "", *lines])
    print(text)
    if args.record:
        args.record.write_text(f"# Soak benchmark\n\n{__doc__.split(chr(10), 1)[1].strip()}\n\n"
                               f"## Latest run ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} "
                               f"cores)\n\n{text}\n")  # fmt: skip
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
