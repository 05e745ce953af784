"""Node for the tests that run JavaScript clients: the executable, and a project's packages at
exactly the versions its package.json pins. The suites fail (never skip) without them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def node(needs: str) -> str:
    """The node executable; ``needs`` says who needs which version, for the failure."""
    exe = shutil.which("node")
    if exe is None:
        pytest.fail(
            f"node is not installed: {needs}. "
            "Run `make test` (scripts/system-deps.sh installs it) or install nodejs."
        )
    return exe


def require_packages(project: Path) -> None:
    """Every dependency ``project``'s package.json pins (an ``npm:name@version`` alias too) is
    in its node_modules at exactly that version."""
    pinned: dict[str, str] = json.loads((project / "package.json").read_text())["dependencies"]
    wrong = []
    for name, spec in pinned.items():
        version = spec.rpartition("@")[2] if spec.startswith("npm:") else spec
        installed = project / "node_modules" / name / "package.json"
        found = json.loads(installed.read_text())["version"] if installed.exists() else None
        if found != version:
            wrong.append(f"{name} {spec} (found {found or 'nothing'})")
    if wrong:
        where = project.relative_to(ROOT)
        pytest.fail(
            f"{where} needs {', '.join(wrong)}: run `make test` (scripts/system-deps.sh runs "
            f"npm ci there) or `npm ci --prefix {where}`."
        )
