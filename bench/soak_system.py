"""What a soak runs against: redis-server, the OpenAI stand-in and ``python -m app`` on them, and
a second replica on the same Redis for rejoins (it reads the runs' logs there)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.children import REPO, Process, RedisProcess, answers_200, clean_env, free_port, standin


@dataclass
class Replica:
    process: Process
    url: str


@contextlib.contextmanager
def processes(
    args: argparse.Namespace, workdir: Path
) -> Iterator[tuple[RedisProcess, Replica, Replica]]:
    """Redis, the stand-in and two replicas of the server on them; yields Redis, the replica
    the clients talk to and the one where half the rejoins go."""
    store = RedisProcess(workdir)
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
        store.stop()


@contextlib.contextmanager
def _replica(
    name: str, args: argparse.Namespace, workdir: Path, store: RedisProcess, upstream: str
) -> Iterator[Replica]:
    port = free_port()
    env = clean_env(
        HOST="127.0.0.1",
        PORT=str(port),
        REDIS_URL=store.url,
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
