"""The Node project these tests run: node itself, and the packages package.json pins."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.node import node as shared_node
from tests.support.node import require_packages as require_project_packages

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "tests/langgraph_js"


def node() -> str:
    """The node executable; the suite fails (never skips) without it."""
    return shared_node("tests/langgraph_js needs Node 20 or newer")


def require_packages() -> None:
    """Every dependency package.json pins is in node_modules at exactly that version."""
    require_project_packages(PROJECT)


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
