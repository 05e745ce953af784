"""The rooms keep to themselves: graphs/ imports no server and no model client, and the
library-like packages import nothing from the server."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.errors import AppError, StoreUnavailable
from app.errors.mapping import to_app_error
from redis_saver import RedisSaverError, RedisUnavailable

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "graphs": {"app", "model_client", "redis_saver", "studio"},
    "model_client": {"app", "graphs", "redis_saver", "studio"},
    "redis_saver": {"app", "graphs", "model_client", "studio"},
}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_source_imports_none_of_the_forbidden_packages(package: str) -> None:
    """No module of the package names a package it must not depend on, even lazily."""
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imported_roots(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_loading_every_graph_version_loads_no_server_and_no_model_client() -> None:
    """Building the shipped registry (every version module) imports graphs/ alone."""
    code = (
        "import json, sys; from graphs import build_registry; build_registry(); "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", code], cwd=ROOT)))
    assert "graphs" in loaded
    assert loaded.isdisjoint({"app", "model_client", "redis_saver", "studio"})


def test_redis_saver_errors_are_its_own_and_the_app_maps_them_to_503() -> None:
    """The saver raises its own error, knowing no server; the app maps it to 503."""
    error = RedisUnavailable("Redis at redis://h:1/0 is unreachable")

    assert isinstance(error, RedisSaverError)
    assert not isinstance(error, AppError)
    mapped = to_app_error(error)
    assert isinstance(mapped, StoreUnavailable)
    assert mapped.status == 503
    assert "redis://h:1/0" in mapped.message
