"""Fixtures the reliability tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_server import RedisServer


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, which it may stop and start (outages)."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()
