"""``bench.stream --baseline REF``: our server as it was at an earlier commit, run beside this tree.

REF's tree is exported with ``git archive`` into the run's scratch directory, and each system
named in ``MIRRORED`` gets an ``@base`` twin that runs ``python -m app`` from it (first on
``PYTHONPATH``, same venv, same scenarios). An export rather than ``git worktree add``: it leaves
nothing in the repository's ``.git`` for a killed run to strand, and it needs no checkout lock.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.systems import System

# The systems with an @base twin: one process, SQLite and Redis memory. Not ours-stock (a tree
# from before MODEL_CLIENT would run its own client) nor ours-w2 (the process count, not the code).
MIRRORED = ("ours", "ours-redis")
SUFFIX = "@base"
# Scenarios a twin leaves out unless named with --scenarios: the LangGraph server API (issue 15)
# is newer than the baselines make bench compares with, whose trees answer it with 404s.
NOT_MIRRORED = ("lg50",)


@dataclass(frozen=True)
class Baseline:
    ref: str  # as given on the command line
    commit: str
    short: str
    subject: str
    tree: Path


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def describe_tree(repo: Path) -> str:
    """``repo``'s HEAD as a short commit, and whether the tree has changes not committed."""
    try:
        short = _git(repo, "rev-parse", "--short", "HEAD")
        dirty = _git(repo, "status", "--porcelain", "--untracked-files=no")
    except RuntimeError:
        return "not a git tree"
    return short + (" with uncommitted changes" if dirty else "")


@contextlib.contextmanager
def exported(repo: Path, ref: str, workdir: Path) -> Iterator[Baseline]:
    """REF's tree under ``workdir``, removed on the way out."""
    try:
        commit = _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except RuntimeError:
        raise RuntimeError(f"not a commit of {repo}") from None
    short = _git(repo, "rev-parse", "--short", commit)
    subject = _git(repo, "log", "-1", "--format=%s", commit)
    tree = workdir / f"baseline-{short}"
    tree.mkdir()
    try:
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", "--format=tar", commit],
            capture_output=True,
            check=True,
            timeout=120,
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
        if not (tree / "app" / "__main__.py").is_file():
            raise RuntimeError(f"{ref} ({short}) has no app/__main__.py: not a tree of this server")
        yield Baseline(ref, commit, short, subject, tree)
    finally:
        shutil.rmtree(tree, ignore_errors=True)


def expand(names: list[str], baseline: bool) -> list[str]:
    """``names`` with each mirrored system's twin right after it (when there is a baseline)."""
    out: list[str] = []
    for name in names:
        out.append(name)
        twin = name + SUFFIX
        if baseline and name in MIRRORED and twin not in names:
            out.append(twin)
    return out


def is_twin(name: str) -> bool:
    return name.endswith(SUFFIX) and name.removesuffix(SUFFIX) in MIRRORED


def twin(system: System, baseline: Baseline) -> System:
    """``system`` run from the baseline's tree, labelled with its commit (and the ref given, when
    that is not the commit itself)."""
    named = "" if baseline.commit.startswith(baseline.ref) else f" (baseline {baseline.ref})"
    return dataclasses.replace(
        system,
        scenarios=tuple(s for s in system.scenarios if s not in NOT_MIRRORED),
        name=system.name + SUFFIX,
        label=f"{system.label} @ {baseline.short}{named}",
        source=baseline.tree,
        mirrors=system.name,
        revision=baseline.short,
    )
