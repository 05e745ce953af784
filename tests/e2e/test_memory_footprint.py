"""A server loads only the model client its configuration uses (the rest is memory for nothing),
and tunes the cyclic GC while it serves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.main import GC_THRESHOLDS

REPO = Path(__file__).resolve().parents[2]

# Starts the app's lifespan in a fresh interpreter and reports which model modules it loaded.
_PROBE = """
import asyncio, gc, json, sys
from app.main import create_app
from app.settings import Settings

async def main():
    app = create_app(Settings(_env_file=None, sqlite_path=sys.argv[1], openai_api_key=sys.argv[2]
                              or None, openai_base_url="http://127.0.0.1:9/v1"))
    before = gc.get_threshold()
    async with app.router.lifespan_context(app):
        provider = app.state.services.models.provider
        serving = gc.get_threshold()
    print(json.dumps({"provider": provider, "langchain_openai": "langchain_openai" in sys.modules,
                      "redis": "redis" in sys.modules,
                      "gc": [serving, gc.get_threshold() == before]}))

asyncio.run(main())
"""


def probe(tmp_path: Path, api_key: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "c.sqlite"), api_key],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("api_key", "provider", "loaded"), [("", "offline", False), ("sk-test", "openai", True)]
)
def test_lifespan_when_provider_then_only_its_client_is_imported(
    tmp_path: Path, api_key: str, provider: str, loaded: bool
) -> None:
    """The offline model never imports langchain_openai; the OpenAI one does, at start-up.

    Neither loads the Redis client when memory is in SQLite (no REDIS_URL). While serving, the
    GC's thresholds are the server's (full collections rare), and they are put back after.
    """
    assert probe(tmp_path, api_key) == {
        "provider": provider,
        "langchain_openai": loaded,
        "redis": False,
        "gc": [list(GC_THRESHOLDS), True],
    }


def test_the_server_entry_point_keeps_httpx_command_line_client_out(tmp_path: Path) -> None:
    """The app package stops httpx importing rich and pygments for a CLI it never runs."""
    probe = (
        "import sys, app.main, httpx; "
        "print(sorted(m for m in ('rich', 'pygments', 'httpx._main') if sys.modules.get(m)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
