"""Real parts for every test: Redis and the OpenAI stand-in on loopback, a live server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from app import Settings, create_app
from bench.openai_standin import OpenAIStandIn
from bench.redis_cluster import RedisCluster
from graphs import Registry
from tests.support.live_server import LiveServer
from tests.support.redis_server import RedisServer
from tests.support.registries import chat_registry

# Settings the server reads; a developer's shell must not leak them into tests.
_SERVER_ENV = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "REDIS_URL",
    "API_KEYS",
    "MODEL_CLIENT",
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


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A real three-master Redis Cluster on loopback, for the whole session."""
    cluster = RedisCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def redis_cluster_db(redis_cluster: RedisCluster) -> str:
    """The session's cluster, every master flushed; the URL of one node."""
    redis_cluster.flush()
    return redis_cluster.url


@pytest.fixture(params=["redis", "cluster"])
def shared_redis(request: pytest.FixtureRequest) -> str:
    """What replicas share: one Redis, or a Redis Cluster (a URL at one of its nodes)."""
    return str(
        request.getfixturevalue("redis_db" if request.param == "redis" else "redis_cluster_db")
    )


# --- The server under test, against the OpenAI stand-in ------------------------------------


@pytest.fixture(scope="session")
def standin_server() -> Iterator[OpenAIStandIn]:
    standin = OpenAIStandIn()
    with standin.running():
        yield standin


@pytest.fixture
def upstream(standin_server: OpenAIStandIn) -> OpenAIStandIn:
    """The OpenAI stand-in, with no script and no history from earlier tests."""
    standin_server.reset()
    return standin_server


ServerFactory = Callable[..., LiveServer]


@pytest.fixture
def make_server(upstream: OpenAIStandIn, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start servers with settings overrides; online against the stand-in unless told, on
    the tests' own registry (streaming-chat 1.0.0 and 1.1.0) unless given another."""
    started: list[LiveServer] = []

    def start(*, registry: Registry | None = None, **overrides: Any) -> LiveServer:
        values: dict[str, Any] = {
            "openai_api_key": "test-key",
            "openai_base_url": upstream.base_url,
            "upstream_max_retries": 0,
            "sqlite_path": tmp_path / f"memory-{len(started)}.sqlite",
        }
        values.update(overrides)
        settings = Settings(_env_file=None, **values)
        server = LiveServer(create_app(settings, registry=registry or chat_registry()))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server: ServerFactory) -> LiveServer:
    return make_server()


@pytest.fixture
async def client(server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        yield http
