"""What a soak runs against: redis-server (or, with ``--cluster``, a Redis Cluster), the OpenAI
stand-in and ``python -m app`` on them, and a second replica on the same Redis for rejoins (it
reads the runs' logs there)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.children import REPO, Process, RedisProcess, answers_200, clean_env, free_port, standin
from bench.redis_cluster import RedisCluster


@dataclass
class Replica:
    process: Process
    url: str


class ClusterStore:
    """The soak's Redis as a cluster of three masters with a replica each. Its outage (``stop``,
    then ``start``) is a failover: a master is killed with SIGKILL, its replica takes over, and
    the killed node is started again and rejoins as a replica."""

    def __init__(self) -> None:
        self.cluster = RedisCluster(replicas_per_master=1, node_timeout_ms=2000)
        self._killed: int | None = None

    @property
    def url(self) -> str:
        return self.cluster.url

    def start(self) -> None:
        if self._killed is None:
            self.cluster.start()
            return
        self.cluster.start_node(self._killed)
        self.cluster.wait_ok(self.cluster.ports)
        self._killed = None

    def stop(self) -> None:
        # The URL's own node first: the servers must find the others without it.
        self._killed = self.cluster.masters_ports()[0]
        self.cluster.kill(self._killed)

    def close(self) -> None:
        self.cluster.stop()


Store = RedisProcess | ClusterStore


@contextlib.contextmanager
def processes(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[Store, Replica, Replica]]:
    """Redis, the stand-in and two replicas of the server on them; yields Redis, the replica
    the clients talk to and the one where half the rejoins go."""
    store: Store = ClusterStore() if args.cluster else RedisProcess(workdir)
    store.start()
    try:
        options = ("--tokens", str(args.tokens), "--delay-ms", str(args.delay_ms))
        with (
            standin(workdir, None, *options) as upstream,
            _replica("server", args, workdir, store, upstream) as server,
            _replica("replica", args, workdir, store, upstream) as other,
        ):
            yield store, server, other
    finally:
        store.close() if isinstance(store, ClusterStore) else store.stop()


@contextlib.contextmanager
def _replica(
    name: str, args: argparse.Namespace, workdir: Path, store: Store, upstream: str
) -> Iterator[Replica]:
    port = free_port()
    env = clean_env(
        HOST="127.0.0.1",
        PORT=str(port),
        REDIS_URL=store.url,
        REDIS_CLUSTER="true" if args.cluster else "false",
        OPENAI_API_KEY="bench",
        OPENAI_BASE_URL=f"{upstream}/v1",
        UPSTREAM_MAX_RETRIES="0",
        MULTITASK=args.multitask,
        LOG_LEVEL="warning",
        SHUTDOWN_GRACE_SECONDS="2",
        PLAYGROUND="false",
        PYTHONPATH=str(REPO),
    )
    process = Process(name, [sys.executable, "-m", "app"], env=env, cwd=workdir)
    try:
        ready = f"http://127.0.0.1:{port}/ready"
        process.wait_for(lambda: answers_200(ready), f"GET {ready} 200")
        yield Replica(process, f"http://127.0.0.1:{port}")
    finally:
        process.stop()
