"""The front-end protocols' own Node clients, as package.json pins them, and how to run them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parent
INSTALL = (
    "run `make test` (scripts/system-deps.sh runs npm ci there) or "
    "`npm ci --prefix tests/frontends`"
)


def _node() -> str:
    exe = shutil.which("node")
    if exe is None:
        pytest.fail(
            "node is not installed: tests/frontends needs Node 20 or newer. Run `make test` "
            "(scripts/system-deps.sh installs it) or install nodejs."
        )
    return exe


def _require_packages() -> None:
    """Every package package.json pins (``npm:ai@6.0.333`` aliases too) is installed at it."""
    pinned: dict[str, str] = json.loads((PROJECT / "package.json").read_text())["dependencies"]
    wrong = []
    for name, spec in pinned.items():
        version = spec.rpartition("@")[2] if spec.startswith("npm:") else spec
        installed = PROJECT / "node_modules" / name / "package.json"
        found = json.loads(installed.read_text())["version"] if installed.exists() else None
        if found != version:
            wrong.append(f"{name} {spec} (found {found or 'nothing'})")
    if wrong:
        pytest.fail(f"tests/frontends needs {', '.join(wrong)}: {INSTALL}.")


def run_node(script: str, *args: str, timeout: float = 90) -> dict[str, Any]:
    """Run one of this folder's scripts; its one line of JSON output, parsed."""
    _require_packages()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    done = subprocess.run(
        [_node(), script, *args],
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
