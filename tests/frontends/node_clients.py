"""The front-end protocols' own Node clients, as package.json pins them, and how to run them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from tests.support.node import node, require_packages

PROJECT = Path(__file__).resolve().parent


def run_node(script: str, *args: str, timeout: float = 90) -> dict[str, Any]:
    """Run one of this folder's scripts; its one line of JSON output, parsed."""
    require_packages(PROJECT)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    done = subprocess.run(
        [node("tests/frontends needs Node 20 or newer"), script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT,
        check=False,
        env=env,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-3000:]}\n{done.stdout[-2000:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def ai_chat(
    version: str, base: str, chat_id: str, steps: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """An AI SDK ``AbstractChat`` (ai ``version``) taking ``steps`` on chat ``chat_id``."""
    spec = {"chatId": chat_id, "steps": steps, **extra}
    return run_node("aisdk_flows.mjs", version, base, json.dumps(spec))


def ag_ui(base: str, thread_id: str, steps: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """An AG-UI ``HttpAgent`` taking ``steps`` on thread ``thread_id``."""
    spec = {"threadId": thread_id, "steps": steps, **extra}
    return run_node("agui_flows.mjs", base, json.dumps(spec))
