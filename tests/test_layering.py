"""The rooms keep to themselves: graphs/ imports no server and no model client, and the
library-like packages import nothing from the server."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable
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


def _app_imports(path: Path) -> set[str]:
    """The modules ``path`` imports, in full (``app.stores.claims``), lazily or not."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _offenders(package: str, refused: Callable[[str], bool]) -> dict[str, list[str]]:
    found = {
        str(path.relative_to(ROOT)): sorted(n for n in _app_imports(path) if refused(n))
        for path in (ROOT / "app" / package).rglob("*.py")
    }
    return {module: names for module, names in found.items() if names}


# What a wire encoder may know of a run: its spec and its events, nothing of how it runs.
RUN_TYPES = ("app.runs.events", "app.runs.spec")
BACKENDS = ("redis", "aiosqlite", "app.stores.redis_", "app.stores.sqlite_")


def test_wire_encoders_know_run_events_but_not_how_runs_run_nor_any_store() -> None:
    """app/wire imports app.runs.events and app.runs.spec alone of app.runs, and no store."""
    assert (
        _offenders(
            "wire",
            lambda name: (
                (name.startswith("app.runs") and name not in RUN_TYPES)
                or name.startswith(("app.stores", "app.api", "redis"))
            ),
        )
        == {}
    )


def test_api_routes_import_no_store_backend() -> None:
    """An API talks to the stores' protocols; which backend is in use is not its business."""
    assert _offenders("api", lambda name: name.startswith(BACKENDS)) == {}


def test_stores_import_nothing_above_them() -> None:
    """Stores are below the run model and the APIs: no route, binder, encoder or run (a log
    names a run by its shape)."""
    above = ("app.api", "app.wire", "app.runs", "app.threads", "app.auth")
    assert _offenders("stores", lambda name: name.startswith(above)) == {}


def test_errors_are_the_ground_floor() -> None:
    """The error hierarchy imports nothing else of the app."""
    assert (
        _offenders("errors", lambda n: n.startswith("app.") and not n.startswith("app.errors"))
        == {}
    )


def test_runs_import_no_api_and_no_store_backend() -> None:
    """The run model is the APIs' common ground: it knows no API and no backend."""
    assert (
        _offenders("runs", lambda name: name.startswith(("app.api", "app.wire", *BACKENDS))) == {}
    )


def test_only_the_store_factory_names_a_backend_class() -> None:
    """Backends are picked once, in app/stores/__init__.py; no module asks which one it got."""
    backends = ("RedisClaims", "RedisLimits", "RedisRunLog", "RedisRecords", "SqliteRecords")
    backends += ("MemoryClaims", "MemoryLimits", "MemoryRunLog")
    checks: dict[str, list[str]] = {}
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "isinstance"
                and any(isinstance(a, ast.Name) and a.id in backends for a in ast.walk(node))
            ):
                checks.setdefault(str(path.relative_to(ROOT)), []).append(ast.unparse(node))
    assert checks == {}


def test_app_top_level_holds_at_most_eight_modules_and_each_package_says_what_it_holds() -> None:
    """app/ is rooms, not a heap: few modules at its top, a docstring on every package."""
    top = sorted(p.name for p in (ROOT / "app").glob("*.py"))
    assert len(top) <= 8, top
    for init in (ROOT / "app").rglob("__init__.py"):
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init} has no docstring"
