"""Servers for the LangGraph API tests, and LangGraph's own Python client pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from tests.conftest import ServerFactory
from tests.langgraph_api.support import TIMEOUT
from tests.support.registries import agent_registry

Offline = Callable[..., str]


@pytest.fixture(autouse=True)
def no_langsmith_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client reads its api_key from these when none is given; the tests give their own."""
    for name in ("LANGGRAPH_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["sqlite", "redis"])
def memory(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Checkpoints and thread records in SQLite, or in a real Redis."""
    if request.param == "redis":
        return {"redis_url": request.getfixturevalue("redis_db")}
    return {}


@pytest.fixture
def offline(make_server: ServerFactory) -> Offline:
    """Start a server answered by the offline model (streaming-chat and tool-agent); its URL."""

    def start(**overrides: Any) -> str:
        settings: dict[str, Any] = {
            "registry": agent_registry(),
            "openai_api_key": None,
            "offline_token_delay_ms": 0,
            **overrides,
        }
        return make_server(**settings).url

    return start


@pytest.fixture
async def lg(offline: Offline) -> AsyncIterator[LangGraphClient]:
    """The async client on an open server (no credentials configured), acting for everyone."""
    async with get_client(url=offline(), api_key=None, timeout=TIMEOUT) as client:
        yield client
