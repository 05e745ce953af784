"""The project's own packaging stays quiet: ``make run`` on a fresh clone prints the server's
start-up lines, not setuptools' warnings about our ``pyproject.toml``."""

from __future__ import annotations

import tomllib
from pathlib import Path

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())


def test_the_license_is_an_spdx_expression_not_a_table() -> None:
    """A ``{text = ...}`` table is deprecated: setuptools warns about it at every install."""
    assert isinstance(PYPROJECT["project"]["license"], str)


def test_an_editable_install_is_a_plain_path_entry() -> None:
    """With the packages mapped from the checkout's top, ``pip install -e .`` writes one .pth;
    without it, setuptools' lenient finder warns on every install."""
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"": "."}


def test_make_run_installs_the_readmes_clients() -> None:
    """The README's Python examples need httpx-sse and langgraph-sdk right after ``make run``."""
    examples = PYPROJECT["project"]["optional-dependencies"]["examples"]
    assert {pin.split("==")[0] for pin in examples} >= {"httpx-sse", "langgraph-sdk"}
    assert all("==" in pin for pin in examples)
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert "pip install --quiet -e '.[examples]'" in makefile
