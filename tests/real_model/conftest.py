"""The real-model world: llama.cpp's server with SmolLM2-135M, and our server against it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app import Settings, create_app
from scripts.local_model import PLACEHOLDER_KEY, ModelServerFailed
from tests.support.live_server import LiveServer
from tests.support.llama_server import LlamaServer
from tests.support.registries import chat_registry


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """One model server for the module: one thread (CI's other core runs the suite)."""
    server = LlamaServer(log=tmp_path_factory.mktemp("llama") / "llama-server.log")
    try:
        server.start()
    except ModelServerFailed as exc:
        if exc.not_installed and not _in_ci():
            pytest.skip(
                "NO REAL MODEL: run `make local-model` (needs network access once) to run "
                f"tests/real_model. {exc}"
            )
        pytest.fail(
            "The real-model tests need llama.cpp's server and SmolLM2; `make test` installs "
            f"both (scripts/local_model.py install). {exc}",
            pytrace=False,
        )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def agent_server(
    llama: LlamaServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Our server on a real socket, its model client pointed at the model server."""
    settings = Settings(
        _env_file=None,
        openai_api_key=PLACEHOLDER_KEY,
        openai_base_url=llama.base_url,
        upstream_max_retries=0,
        # Module-scoped, so set up before the autouse clean_environment: no shell leaks in.
        redis_url=None,
        api_keys=None,
        sqlite_path=tmp_path_factory.mktemp("memory") / "memory.sqlite",
        # A client that leaves is not waited for: the disconnect test checks that llama.cpp
        # frees its slot when the run is cancelled (the grace itself is tested elsewhere).
        reconnect_grace_seconds=0,
    )
    server = LiveServer(create_app(settings, registry=chat_registry()))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def client(agent_server: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=agent_server.url, timeout=60) as http:
        yield http
