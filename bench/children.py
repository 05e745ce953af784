"""The child processes a benchmark starts: on free loopback ports, with a scrubbed environment,
their output in a log file, each in its own session and stopped by its pid."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import redis

from bench.load import ProcessTree
from bench.processes import stop_process

REPO = Path(__file__).resolve().parents[1]

# Settings a developer's shell could leak into the processes under test.
_SCRUB = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "REDIS_URL",
    "REDIS_KEY_PREFIX",
    "RUN_LOG_TTL_SECONDS",
    "RUN_LOG_MAXLEN",
    "RECONNECT_GRACE_SECONDS",
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
    "SSE_COMPRESSION",
    "MODEL_CLIENT",
    # Aegra's settings, and libpq's: the Aegra system must reach only its private cluster.
    "DATABASE_URL",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_DB",
    "AEGRA_CONFIG",
    "AUTH_TYPE",
    "REDIS_BROKER_ENABLED",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSERVICE",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(cores: str | None, argv: list[str]) -> list[str]:
    """``argv`` under ``taskset -c cores``, where there is more than one core to choose from."""
    if cores and shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        return ["taskset", "-c", cores, *argv]
    return argv


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(extra)
    return env


def as_user(user: tuple[int, int] | None) -> dict[str, Any]:
    """Popen's arguments that run a child as ``user`` (uid, gid), in that group alone."""
    if user is None:
        return {}
    uid, gid = user
    return {"user": uid, "group": gid, "extra_groups": []}


def answers_200(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=2).status_code == 200
    return False


class Process:
    """A child with its output in ``<cwd>/<name>.log``; stopped by its pid (and its tree's).

    ``user`` (uid, gid) runs it as that account, for servers that refuse to run as root.
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        user: tuple[int, int] | None = None,
    ) -> None:
        self.name = name
        self.log_path = cwd / f"{name}.log"
        with self.log_path.open("wb") as log:
            # Its own session: a Ctrl-C here reaches only us, and we stop it in order.
            self.popen = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,  # a scratch directory: no developer's .env is read
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                **as_user(user),
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def wait_for(self, ready: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
        """Poll ``ready`` until it holds; fail with the log's tail if the child exits or stalls."""
        deadline = time.monotonic() + timeout
        while not ready():
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{self.name}: {what} did not happen in {timeout:.0f} s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        tree = ProcessTree(self.pid).pids() if self.alive() else []
        stop_process(self.popen, grace=15)
        for pid in tree[1:]:  # workers the parent did not take down with it
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def standin(workdir: Path, cores: str | None, *options: str) -> Iterator[str]:
    """The OpenAI stand-in, given ``options``; yields its root URL (the API is under ``/v1``)."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.openai_standin", "--port", str(port), *options]
    process = Process(
        "standin", pinned(cores, argv), env=clean_env(PYTHONPATH=str(REPO)), cwd=workdir
    )
    try:
        process.wait_for(lambda: "OpenAI stand-in on" in process.log(), "start", timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


class RedisProcess:
    """redis-server on one port; append-only (``persist``) so that a stop/start keeps its data."""

    def __init__(self, workdir: Path, *, persist: bool = True, cores: str | None = None) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.persist = persist
        self.cores = cores
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        argv = [exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "yes" if self.persist else "no", "--appendfsync", "everysec",
                "--dir", str(self.workdir), "--protected-mode", "no"]  # fmt: skip
        self.process = Process("redis", pinned(self.cores, argv), env=clean_env(), cwd=self.workdir)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)

        def answers() -> bool:
            with contextlib.suppress(redis.ConnectionError):
                return bool(client.ping())
            return False

        try:
            self.process.wait_for(answers, "PING")
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()  # SIGTERM: redis fsyncs its append-only file, then exits
