"""``python -m app`` in a subprocess, as deployed: for signals (SIGTERM, SIGKILL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.openai_standin import OpenAIStandIn
from tests.support.ports import free_port, wait_until_serving


class ServerProcess:
    """``python -m app`` in a subprocess, as deployed."""

    def __init__(
        self,
        upstream: OpenAIStandIn,
        workdir: Path,
        *,
        registry: str | None = None,
        **settings: str,
    ) -> None:
        """``registry``: ``module:function`` building the graphs to serve (default: the
        shipped catalog, as ``python -m app`` serves it)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PORT": str(self.port),
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": upstream.base_url,
            "UPSTREAM_MAX_RETRIES": "0",
            "SQLITE_PATH": str(workdir / "memory.sqlite"),
            "SHUTDOWN_GRACE_SECONDS": "3",
            "LOG_LEVEL": "warning",
            # This checkout's code, whatever the venv's editable install points at.
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            **settings,
        }
        self.log_path = workdir / f"server-{self.port}.log"
        self.log = self.log_path.open("wb")
        command = ["-m", "app"] if registry is None else ["-m", "tests.support.serve", registry]
        # cwd is the test's own folder, so no developer .env is read.
        self.proc = subprocess.Popen(
            [sys.executable, *command], cwd=workdir, env=env, stdout=self.log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_until_serving(f"{self.url}/health", self.proc, self.log_path, 30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
