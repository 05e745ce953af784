"""llama.cpp's server with SmolLM2 (``scripts/local_model.py serve``), stopped by its PID."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from scripts.local_model import start_model_server, stop_process


@dataclass
class LlamaServer:
    """One model server on a free loopback port, and what it says about its requests."""

    log: Path
    threads: int = 1
    parallel: int = 2
    ctx: int = 2048
    max_tokens: int = 256
    base_url: str = ""  # .../v1, for OPENAI_BASE_URL
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def root(self) -> str:
        return self.base_url.removesuffix("/v1")

    def start(self) -> None:
        """Raises ``ModelServerFailed``; its ``not_installed`` tells a missing model apart."""
        self._proc, self.base_url = start_model_server(
            self.log,
            threads=self.threads,
            ctx=self.ctx,
            parallel=self.parallel,
            max_tokens=self.max_tokens,
            wait=60,
        )

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
        self._proc = None

    def slots(self) -> list[dict[str, Any]]:
        """llama.cpp's ``/slots``: one entry per slot, ``is_processing`` while it decodes."""
        slots: list[dict[str, Any]] = httpx.get(f"{self.root}/slots", timeout=5).json()
        return slots

    def busy_slots(self) -> int:
        return sum(1 for slot in self.slots() if slot["is_processing"])

    def metric(self, name: str) -> float:
        """One ``llamacpp:<name>`` value from the Prometheus text at ``/metrics``."""
        text = httpx.get(f"{self.root}/metrics", timeout=5).text
        found = re.search(rf"^llamacpp:{re.escape(name)} (\S+)$", text, re.MULTILINE)
        assert found, f"llama.cpp's /metrics has no {name}"
        return float(found.group(1))

    def cancelled_tasks(self) -> int:
        """Requests llama.cpp cancelled because their client closed the connection."""
        return len(re.findall(r"cancel task", self.log.read_text(errors="replace")))
