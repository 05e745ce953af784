"""The Node project these tests run: node itself, and the packages package.json pins."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "tests/langgraph_js"
INSTALL = (
    "run `make test` (scripts/system-deps.sh runs npm ci there) "
    "or `npm ci --prefix tests/langgraph_js`"
)


def node() -> str:
    """The node executable; the suite fails (never skips) without it."""
    exe = shutil.which("node")
    if exe is None:
        pytest.fail(
            "node is not installed: tests/langgraph_js needs Node 20 or newer. "
            "Run `make test` (scripts/system-deps.sh installs it) or install nodejs."
        )
    return exe


def require_packages() -> None:
    """Every dependency package.json pins is in node_modules at exactly that version."""
    pinned: dict[str, str] = json.loads((PROJECT / "package.json").read_text())["dependencies"]
    wrong = []
    for name, version in pinned.items():
        installed = PROJECT / "node_modules" / name / "package.json"
        found = json.loads(installed.read_text())["version"] if installed.exists() else None
        if found != version:
            wrong.append(f"{name} {version} (found {found or 'nothing'})")
    if wrong:
        pytest.fail(f"tests/langgraph_js needs {', '.join(wrong)}: {INSTALL}.")


def run_node(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run node on a script of this project, from the project (so its node_modules resolve)."""
    require_packages()
    # The SDK reads LANGGRAPH_API_KEY & co. when no key is given; a developer's must not leak.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run(
        [node(), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=PROJECT,
        check=False,
        env=env,
    )
