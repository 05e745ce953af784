"""Stopping the processes that benchmarks and tests start: by their PID, never by name."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited after ``grace`` seconds; reaps it either way."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
