"""What the takeover soak runs against: a Redis Cluster of three masters, the OpenAI stand-in, and
three replicas of ``python -m app``, each with ``REDIS_URL`` at a node of its own. A replica is
killed by its PID (``kill -9``) and started again on its port; each of its processes is a
:class:`Generation`, with the RSS and CPU sampled while it lived."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.children import REPO, Process, answers_200, clean_env, free_port, standin
from bench.load import ProcessTree
from bench.redis_cluster import RedisCluster


@dataclass
class Generation:
    """One process of a replica, from its start to its kill (or to the soak's end)."""

    replica: int
    number: int
    process: Process
    started: float
    ready: float | None = None
    killed: float | None = None
    rss: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time, KiB)
    cpu: float = 0.0  # CPU seconds, as last read while it lived

    def sample(self) -> None:
        if self.killed is not None or not self.process.alive():
            return
        tree = ProcessTree(self.process.pid)
        self.rss.append((time.monotonic(), tree.rss_bytes() // 1024))
        self.cpu = tree.cpu_seconds()

    def rss_at(self, moment: float) -> int | None:
        """The last reading at or before ``moment`` (KiB)."""
        before = [kib for at, kib in self.rss if at <= moment]
        return before[-1] if before else None


@dataclass
class Kill:
    replica: int
    pid: int
    at: float
    back: float | None = None  # when its new process answered /ready


class Replicas:
    """The three replicas: which are live (the clients' choice), killing and starting them."""

    def __init__(self, args: argparse.Namespace, workdir: Path, nodes: list[str], upstream: str):
        self.args = args
        self.workdir = workdir
        self.nodes = nodes
        self.upstream = upstream
        self.ports = [free_port() for _ in nodes]
        self.generations: list[list[Generation]] = [[] for _ in nodes]
        self.live: set[int] = set()
        self.kills: list[Kill] = []
        self.rng = random.Random(args.seed)

    def url(self, replica: int) -> str:
        return f"http://127.0.0.1:{self.ports[replica]}"

    def pick(self, avoid: int | None = None) -> int:
        """A live replica at random (another than ``avoid`` when there is one)."""
        choices = sorted(self.live - {avoid}) or sorted(self.live) or [0]
        return self.rng.choice(choices)

    def current(self, replica: int) -> Generation:
        return self.generations[replica][-1]

    def start(self, replica: int) -> Generation:
        """Start the replica's next process on its port and wait until it is ready (blocks)."""
        number = len(self.generations[replica])
        env = clean_env(
            HOST="127.0.0.1",
            PORT=str(self.ports[replica]),
            REDIS_URL=self.nodes[replica],
            REDIS_CLUSTER="true",
            RUN_CLAIM_TTL_SECONDS=f"{self.args.claim_ttl:g}",
            RUN_MAX_ATTEMPTS=str(self.args.max_attempts),
            ON_DISCONNECT="continue",
            OPENAI_API_KEY="bench",
            OPENAI_BASE_URL=f"{self.upstream}/v1",
            UPSTREAM_MAX_RETRIES="0",
            LOG_LEVEL="warning",
            SHUTDOWN_GRACE_SECONDS="2",
            PLAYGROUND="false",
            PYTHONPATH=str(REPO),
        )
        argv = [sys.executable, "-m", "app"]
        process = Process(f"replica{replica}-{number}", argv, env=env, cwd=self.workdir)
        generation = Generation(replica, number, process, time.monotonic())
        self.generations[replica].append(generation)
        ready = f"{self.url(replica)}/ready"
        process.wait_for(lambda: answers_200(ready), f"GET {ready} 200")
        generation.ready = time.monotonic()
        self.live.add(replica)
        return generation

    def kill(self, replica: int) -> Kill:
        """``kill -9`` the replica's process (and any child of it), by PID, as a crash would."""
        generation = self.current(replica)
        self.live.discard(replica)
        pids = ProcessTree(generation.process.pid).pids()
        generation.sample()
        kill = Kill(replica, generation.process.pid, time.monotonic())
        generation.killed = kill.at
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        generation.process.popen.wait(5)
        self.kills.append(kill)
        return kill

    async def restart(self, replica: int, kill: Kill) -> None:
        await asyncio.to_thread(self.start, replica)
        kill.back = time.monotonic()

    async def sample_forever(self, every: float) -> None:
        while True:
            for generations in self.generations:
                if generations:
                    generations[-1].sample()
            await asyncio.sleep(every)

    def logs(self) -> dict[str, str]:
        return {g.process.name: g.process.log() for gs in self.generations for g in gs}

    def stop(self) -> None:
        for generations in self.generations:
            for generation in generations:
                generation.process.stop()


@contextlib.contextmanager
def system(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[Replicas, str]]:
    """The cluster, the stand-in and the three replicas, all started; yields the replicas and
    the stand-in's URL; stops every process by its PID on the way out."""
    cluster = RedisCluster(masters=3, replicas_per_master=0)
    cluster.start()
    try:
        nodes = [f"redis://127.0.0.1:{port}/0" for port in cluster.ports]
        options = ("--tokens", str(args.tokens), "--delay-ms", str(args.delay_ms))
        with standin(workdir, None, *options) as upstream:
            replicas = Replicas(args, workdir, nodes, upstream)
            try:
                for replica in range(len(nodes)):
                    replicas.start(replica)
                yield replicas, upstream
            finally:
                replicas.stop()
    finally:
        cluster.stop()
