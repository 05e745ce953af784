"""Settings come from the environment and .env, with blanks meaning defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_env_example_as_shipped_gives_the_defaults() -> None:
    """Copying .env.example to .env unchanged runs offline on SQLite at 127.0.0.1:8000."""
    settings = Settings(_env_file=ROOT / ".env.example")
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.openai_api_key is None
    assert settings.redis_url is None
    assert settings.redis_ttl_seconds is None


def test_env_example_documents_every_setting() -> None:
    """Each setting has a line in .env.example."""
    text = (ROOT / ".env.example").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"{name.upper()}=" not in text]
    assert missing == []


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """Environment variables set the server's settings; the API key stays secret."""
    monkeypatch.setenv("PORT", "9001")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = Settings(_env_file=None)
    assert settings.port == 9001
    assert settings.openai_api_key is not None
    assert "sk-test" not in repr(settings)
