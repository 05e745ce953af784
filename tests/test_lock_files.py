"""The npm lock files pin names, versions and integrity hashes, and record no addresses: not
where a package was downloaded from (``resolved``), nor its maintainers' funding pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCKS = [
    "examples/node/package-lock.json",
    "tests/langgraph_js/package-lock.json",
    "tests/frontends/package-lock.json",
]


@pytest.mark.parametrize("path", LOCKS)
def test_a_lock_file_records_no_address(path: str) -> None:
    text = (ROOT / path).read_text()
    packages = json.loads(text)["packages"]
    assert len(packages) > 1, "a lock without its packages"
    assert all(p.get("integrity") for name, p in packages.items() if name), "a package unpinned"
    assert "://" not in text, (
        f"{path} records an address; regenerate it with the folder's .npmrc "
        "(omit-lockfile-registry-resolved) and drop the 'funding' entries"
    )
