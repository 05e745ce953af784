"""Session-wide real parts: Redis on loopback, and an environment free of the developer's settings."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from tests.support.redis_server import RedisServer

# Settings the server reads; a developer's shell must not leak them into tests.
_SERVER_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "REDIS_URL",
    "API_KEYS",
    "HOST",
    "PORT",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the settings they set themselves."""
    for name in _SERVER_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis: TEST_REDIS_URL if set, else a throwaway redis-server."""
    external = os.environ.get("TEST_REDIS_URL")
    if external:
        yield external
        return
    server = RedisServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_db(redis_url: str) -> Iterator[str]:
    """The session Redis, flushed before each test that uses it."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    yield redis_url
