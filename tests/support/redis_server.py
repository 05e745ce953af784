"""A throwaway ``redis-server`` on a free loopback port, stopped by its PID."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from bench.processes import stop_process
from tests.support.ports import free_port

MISSING = (
    "redis-server is not installed: the tests need a real Redis. "
    "Run `make test` (it installs Debian's redis-server) or set TEST_REDIS_URL."
)


@dataclass
class RedisServer:
    """One redis-server process; ``stop()``/``start()`` let fault tests take it away and back."""

    port: int = field(default_factory=free_port)
    binary: str = "redis-server"
    persist: bool = False  # append-only file, so data survives stop()/start() like production
    _proc: subprocess.Popen[bytes] | None = None
    _dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="redis-test-")))

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which(self.binary)
        if exe is None:
            raise RuntimeError(MISSING)
        self._proc = subprocess.Popen(
            [
                exe,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "yes" if self.persist else "no",
                "--dir", str(self._dir),
                "--protected-mode", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self._proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"redis-server did not start on port {self.port}"
                        ) from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
        self._proc = None
