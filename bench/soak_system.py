"""What a soak runs against: redis-server, the OpenAI stand-in and ``python -m app`` on them."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.children import REPO, Process, RedisProcess, answers_200, clean_env, free_port, standin


@contextlib.contextmanager
def processes(
    args: argparse.Namespace, workdir: Path
) -> Iterator[tuple[RedisProcess, Process, str]]:
    """Redis, the stand-in and the server; yields Redis, the server and the server's URL."""
    store = RedisProcess(workdir)
    store.start()
    try:
        options = ("--tokens", str(args.tokens), "--delay-ms", str(args.delay_ms))
        with standin(workdir, None, *options) as upstream:
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
            server = Process("server", [sys.executable, "-m", "app"], env=env, cwd=workdir)
            try:
                ready = f"http://127.0.0.1:{port}/ready"
                server.wait_for(lambda: answers_200(ready), f"GET {ready} 200")
                yield store, server, f"http://127.0.0.1:{port}"
            finally:
                server.stop()
    finally:
        store.stop()
