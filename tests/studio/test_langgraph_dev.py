"""LangGraph Studio: ``langgraph dev`` loads langgraph.json and streams our graphs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bench.openai_standin import OpenAIStandIn, Reply
from bench.processes import stop_process
from graphs import build_registry, studio
from tests.support.ports import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_exports_every_registered_version() -> None:
    """Every registry version has a langgraph.json entry pointing at a studio factory."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    expected = {
        g.ref.replace("::", "-"): f"./graphs/studio.py:{studio.attribute_name(g.ref)}"
        for g in build_registry()
    }
    assert config["graphs"] == expected
    for target in expected.values():
        factory = getattr(studio, target.rpartition(":")[2])
        assert factory().checkpointer is None  # the dev server brings its own


@pytest.fixture
def langgraph_dev(upstream: OpenAIStandIn, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {
        **os.environ,
        "OPENAI_API_KEY": "test-key",
        "OPENAI_BASE_URL": upstream.base_url,
        "LANGSMITH_TRACING": "false",
        "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    }
    log = (tmp_path / "langgraph-dev.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "langgraph"), "dev", "--port", str(port),
         "--host", "127.0.0.1", "--no-browser", "--no-reload"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_serving(f"{url}/ok", proc, tmp_path / "langgraph-dev.log", 90)
        except RuntimeError as exc:
            pytest.fail(f"langgraph dev did not start: {exc}")
        yield url
    finally:
        stop_process(proc, grace=10)
        log.close()


def test_langgraph_dev_streams_streaming_chat(langgraph_dev: str, upstream: OpenAIStandIn) -> None:
    """A Studio-style run of streaming-chat 1.0.0 streams the model's tokens."""
    upstream.default = Reply(tokens=["Hi", " from", " Studio"])
    body = {
        "assistant_id": "streaming-chat-1.0.0",
        "input": {"messages": [{"role": "user", "content": "hello"}]},
        "stream_mode": "messages-tuple",
    }
    contents: list[str] = []
    with httpx.stream("POST", f"{langgraph_dev}/runs/stream", json=body, timeout=60) as response:
        assert response.status_code == 200
        event = ""
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:") and event == "messages":
                message, _meta = json.loads(line.partition(":")[2])
                contents.append(message["content"])
    assert "".join(contents) == "Hi from Studio"
    assert upstream.seen[-1].messages == [{"role": "user", "content": "hello"}]
