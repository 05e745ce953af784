"""The servers the LangGraph JS tests run against: ours, and ``langgraph dev`` as the reference
whose behaviour the assertions copy (marked slow); Chromium from tests/browser."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bench.openai_standin import OpenAIStandIn, Reply
from bench.processes import stop_process
from tests.browser.conftest import browser, page
from tests.conftest import ServerFactory
from tests.langgraph_js.node_project import ROOT
from tests.support.ports import free_port, wait_until_serving
from tests.support.registries import agent_registry

__all__ = ["browser", "page"]  # Chromium exactly as the playground's tests launch it

TOKENS = ["Hel", "lo", ", wor", "ld ", "é✓"]
ANSWER = "".join(TOKENS)


@dataclass(frozen=True)
class Target:
    """A LangGraph API server, and the assistant ids its graphs go by."""

    url: str
    chat: str = "streaming-chat"
    agent: str = "tool-agent"
    reference: bool = False  # langgraph dev


def langgraph_dev(tmp_path: Path, **env: str) -> Iterator[Target]:
    """``langgraph dev`` serving langgraph.json (its CORS lets any origin in)."""
    port = free_port()
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "LANGGRAPH_"))
    }
    environment |= {"LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1", **env}
    log_path = tmp_path / "langgraph-dev.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "langgraph"), "dev", "--port", str(port),
             "--host", "127.0.0.1", "--no-browser", "--no-reload"],
            cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_until_serving(f"{url}/ok", proc, log_path, 90)
            except RuntimeError as exc:
                pytest.fail(f"langgraph dev did not start: {exc}")
            yield Target(url, "streaming-chat-1.1.0", "tool-agent-1.0.0", reference=True)
        finally:
            stop_process(proc, grace=10)


@pytest.fixture(scope="module")
def dev_online(
    standin_server: OpenAIStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """langgraph dev whose model is the OpenAI stand-in (scripted per test via ``upstream``)."""
    yield from langgraph_dev(
        tmp_path_factory.mktemp("dev-online"),
        OPENAI_API_KEY="test-key",
        OPENAI_BASE_URL=standin_server.base_url,
    )


@pytest.fixture(scope="module")
def dev_offline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """langgraph dev with no API key: the offline model."""
    yield from langgraph_dev(tmp_path_factory.mktemp("dev-offline"))


SERVERS = [
    pytest.param("ours", id="ours"),
    pytest.param("langgraph-dev", id="langgraph-dev", marks=pytest.mark.slow),
]


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    """Settings our server gets on top of the test defaults (the browser tests add CORS)."""
    return {}


@pytest.fixture(params=SERVERS)
def chat_server(
    request: pytest.FixtureRequest,
    make_server: ServerFactory,
    upstream: OpenAIStandIn,
    server_overrides: dict[str, Any],
) -> Target:
    """A server whose model calls the stand-in answers, TOKENS unless a test scripts more."""
    upstream.default = Reply(tokens=TOKENS)
    if request.param == "langgraph-dev":
        target: Target = request.getfixturevalue("dev_online")
        return target
    return Target(make_server(registry=agent_registry(), **server_overrides).url)


@pytest.fixture(params=SERVERS)
def offline_server(
    request: pytest.FixtureRequest, make_server: ServerFactory, server_overrides: dict[str, Any]
) -> Target:
    """A server with no API key: the offline model, whose tool-agent rules are known."""
    if request.param == "langgraph-dev":
        target: Target = request.getfixturevalue("dev_offline")
        return target
    overrides = {"openai_api_key": None, **server_overrides}
    return Target(make_server(registry=agent_registry(), **overrides).url)
