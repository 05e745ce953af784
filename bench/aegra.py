"""Aegra (``aegra-api``, the open-source Agent Protocol server) as a system of ``bench.stream``.

Aegra 0.11 needs Python 3.12 or newer and PostgreSQL; this project runs on 3.11, so Aegra gets a
venv of its own, ``bench/.aegra-venv``, made on first use (a few minutes) and made again whenever
its requirements change: ``aegra-api`` pinned, and the dependencies ``pyproject.toml`` pins for
our graphs, since Aegra runs our graph code from the tree under test, as ``langgraph dev`` does,
and it should do so on the same library versions.

It is started as ``aegra serve`` starts it (uvicorn on ``aegra_api.main:app``, ``AEGRA_CONFIG``
naming the config), without ``aegra-cli`` itself, whose part is to find that config, load a
``.env`` and, for ``aegra dev``, start PostgreSQL in Docker: the benchmark does those itself.
The config is our ``langgraph.json``, which Aegra reads as it is (graph ids, paths, the
``dependencies`` it puts on ``sys.path``); a graph id is accepted as an ``assistant_id``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

AEGRA_API = "aegra-api==0.11.0"
VENV = Path(__file__).resolve().parent / ".aegra-venv"
_STAMP = "requirements.txt"  # written once the install has succeeded
# Interpreters to try, in order, on PATH; then pyenv's.
PYTHONS = ("python3.12", "python3.13")
PYENV_PATTERNS = ("3.12*/bin/python3.12", "3.13*/bin/python3.13")
INSTALL_TIMEOUT = 900.0


def requirements(repo: Path) -> list[str]:
    """Aegra, and what ``repo``'s graphs import, each pinned ``name==version``."""
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    return [AEGRA_API, *project["dependencies"]]


def _works(python: str) -> bool:
    """Whether ``python`` runs and is 3.12 or newer (a pyenv shim may exist and fail)."""
    try:
        done = subprocess.run(
            [python, "-c", "import sys; sys.exit(sys.version_info < (3, 12))"],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def find_python() -> str:
    candidates = [found for name in PYTHONS if (found := shutil.which(name))]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    for pattern in PYENV_PATTERNS:
        candidates.extend(str(p) for p in sorted(pyenv.glob(pattern), reverse=True))
    for python in candidates:
        if _works(python):
            return python
    raise RuntimeError(
        f"Aegra needs Python 3.12 or newer: none found ({', '.join(PYTHONS)} on PATH, "
        f"{pyenv}/{{{','.join(PYENV_PATTERNS)}}})"
    )


def ensure_venv(repo: Path) -> Path:
    """The venv's interpreter, after making the venv if it is missing or its requirements
    differ (remade from scratch then, so that nothing of an older set lingers)."""
    wanted = "\n".join(requirements(repo)) + "\n"
    python = VENV / "bin" / "python"
    stamp = VENV / _STAMP
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    base = find_python()
    print(f"  installing {AEGRA_API} into {VENV} ...", file=sys.stderr, flush=True)
    shutil.rmtree(VENV, ignore_errors=True)
    VENV.mkdir(parents=True)
    log, pending = VENV / "install.log", VENV / "requirements.pending"
    pending.write_text(wanted)
    steps = (
        [base, "-m", "venv", str(VENV)],
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
            str(pending),
        ],
    )
    with log.open("wb") as out:
        for argv in steps:
            try:
                done = subprocess.run(
                    argv, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT, check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise RuntimeError(
                    f"installing Aegra took over {INSTALL_TIMEOUT:.0f} s (see {log})"
                ) from exc
            if done.returncode != 0:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:]
                raise RuntimeError(f"installing Aegra failed: {' '.join(tail)} (see {log})")
    pending.rename(stamp)  # only now: an interrupted install is made again next time
    return python


def server_argv(python: Path, port: int) -> list[str]:
    return [
        str(python), "-m", "uvicorn", "aegra_api.main:app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def server_env(database_url: str, config: Path) -> dict[str, str]:
    """Aegra's settings on top of the common ones: our config, the private cluster, auth off
    (its default, said here so that no developer's shell turns it on), in-process runs."""
    return {
        "AEGRA_CONFIG": str(config),
        "DATABASE_URL": database_url,
        "AUTH_TYPE": "noop",
        "REDIS_BROKER_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
        "LANGSMITH_TRACING": "false",
    }
