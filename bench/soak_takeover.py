"""Takeover soak: streams followed across replicas while one replica after another is killed.

One invocation starts, as subprocesses on free loopback ports, a Redis Cluster of three masters
(``bench.redis_cluster``), the OpenAI stand-in (``--tokens`` tokens every ``--delay-ms``, so that
a turn lasts a few seconds) and three replicas of ``python -m app``, each with ``REDIS_URL`` at a
node of its own, ``RUN_CLAIM_TTL_SECONDS=3`` and ``ON_DISCONNECT=continue``
(``bench.soak_takeover_system``). After a warm-up and an idle pause (the RSS baselines),
``--streams`` turns are spread over ``--seconds``, on threads of one to three turns taken in
sequence, at most ``--concurrency`` at once: each started with ``POST /start`` on a live replica
picked at random and followed with ``GET <streamUrl>`` on another pick, reconnecting with
``Last-Event-ID`` on a live replica when a kill breaks the connection
(``bench.soak_takeover_clients``). Every ``--kill-every`` seconds one replica, round-robin, gets
SIGKILL by its PID and is started again on its port ``--down`` seconds later.

Then it checks (``bench.soak_takeover_checks``) that every stream ended with ``final`` (or
``run_lost`` because the run's attempts ran out, counted), none hung past its deadline; that the
chunks after the last ``reset`` are ``final.text``; that frame ids strictly increase across a
client's connections, a gap only where a taken-over run's frames go on from the next million;
that every thread holds each turn once, in order (one user message, one answer: no run lost, no
turn duplicated); that each replica's current process, after an idle pause, is within 20% of its
warm baseline (a restarted one: its reading ``--rss-window`` s before the soak's end); and how
long takeovers took, from the kill to the reset a follower read (p50/p99/max, the target p99 <=
RUN_CLAIM_TTL_SECONDS + 2 s). It prints one markdown summary and exits 1 if a check failed.

``python -m bench.soak_takeover`` (about 2 minutes), ``--quick`` (about 1 minute), ``--help``.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.load import upstream_roles, use_uvloop
from bench.soak_takeover_checks import check_histories, check_streams, takeovers
from bench.soak_takeover_clients import LIMITS, Clients, drive
from bench.soak_takeover_report import Measured, report
from bench.soak_takeover_system import Replicas, system


def _rss(replicas: Replicas) -> dict[tuple[int, int], int]:
    readings = {}
    for generations in replicas.generations:
        g = generations[-1]
        g.sample()
        if g.killed is None and g.rss:
            readings[(g.replica, g.number)] = g.rss[-1][1]
    return readings


def _copy_logs(workdir: Path, to: Path) -> None:
    to.mkdir(parents=True, exist_ok=True)
    for log in workdir.glob("*.log"):
        shutil.copy(log, to / log.name)


async def soak_run(args: argparse.Namespace, workdir: Path) -> tuple[list[str], bool]:
    with system(args, workdir) as (replicas, upstream):
        sampler = asyncio.create_task(replicas.sample_forever(0.5))
        timeout = httpx.Timeout(args.read_timeout, connect=5)
        async with httpx.AsyncClient(limits=LIMITS, timeout=timeout) as http:
            clients = Clients(args, replicas, http)
            await drive(clients, "warm", args.warmup_streams, args.warmup, kills=False)
            await asyncio.sleep(args.idle)
            measured = Measured(time.monotonic(), 0.0, baseline=_rss(replicas))
            cpu0 = {id(g): g.cpu for gs in replicas.generations for g in gs}
            calls0 = sum((await upstream_roles(upstream)).values())
            own = resource.getrusage(resource.RUSAGE_SELF)
            await drive(clients, "soak", args.streams, args.seconds, kills=True)
            measured.soak_end = time.monotonic()
            after = resource.getrusage(resource.RUSAGE_SELF)
            measured.cpu = {
                "wall": measured.soak_end - measured.soak_start,
                "client": after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime,
                "replicas": sum(
                    g.cpu - cpu0.get(id(g), 0.0) for gs in replicas.generations for g in gs
                ),
            }
            measured.model_calls = sum((await upstream_roles(upstream)).values()) - calls0
            await asyncio.sleep(args.idle)
            measured.end = _rss(replicas)
            sampler.cancel()
            histories = await check_histories(clients)
        logs = replicas.logs()
        if args.logs is not None:
            await asyncio.to_thread(_copy_logs, workdir, args.logs)
    soak = [t for t in clients.turns if t.phase == "soak"]
    taken = takeovers(soak, replicas.kills, logs, within=args.kill_every)
    streams = check_streams(clients.turns)
    return report(clients, replicas, measured, streams, histories, taken, logs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=300, help="turns in the soak")
    parser.add_argument("--seconds", type=float, default=60.0, help="over which they start")
    parser.add_argument("--concurrency", type=int, default=64, help="turns at once, at most")
    parser.add_argument("--warmup-streams", type=int, default=50)
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds of warm-up")
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before RSS")
    parser.add_argument("--kill-every", type=float, default=15.0)
    parser.add_argument("--down", type=float, default=2.0, help="seconds a killed one stays down")
    parser.add_argument("--claim-ttl", type=float, default=3.0, help="RUN_CLAIM_TTL_SECONDS")
    parser.add_argument("--max-attempts", type=int, default=3, help="RUN_MAX_ATTEMPTS")
    parser.add_argument("--tokens", type=int, default=60)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--turn-deadline", type=float, default=60.0, help="seconds per turn")
    parser.add_argument("--read-timeout", type=float, default=30.0)
    parser.add_argument(
        "--rss-window", type=float, default=30.0,
        help="a restarted process's baseline: its RSS this long before the soak's end",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--quick", action="store_true", help="80 streams over 20 s, a kill every 8 s"
    )
    parser.add_argument("--logs", type=Path, help="copy the processes' logs to this directory")
    args = parser.parse_args()
    if args.quick:
        args.streams, args.seconds, args.kill_every = 80, 20.0, 8.0
        args.warmup_streams, args.warmup = 20, 5.0
    command = shlex.join(["python", "-m", "bench.soak_takeover", *sys.argv[1:]])
    use_uvloop()
    with tempfile.TemporaryDirectory(prefix="soak-takeover-") as tmp:
        lines, ok = asyncio.run(soak_run(args, Path(tmp)))
    print("\n".join([f"`{command}`", "", *lines]))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
