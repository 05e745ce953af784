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
from graphs import build_registry
from studio import exports
from studio.__main__ import main as write_langgraph_json
from tests.support.ports import free_port, wait_until_serving

ROOT = Path(__file__).resolve().parents[2]


def test_langgraph_json_agrees_with_the_registry() -> None:
    """langgraph.json is what ``make langgraph.json`` writes: one entry per registered version,
    each naming the export that ``studio.exports`` derives from the registry."""
    config = json.loads((ROOT / "langgraph.json").read_text())
    expected = {
        g.ref.replace("::", "-"): f"./studio/exports.py:{exports.attribute_name(g.ref)}"
        for g in build_registry()
    }
    assert config["graphs"] == expected
    assert write_langgraph_json(["--check", "--path", str(ROOT / "langgraph.json")]) == 0
    for target in expected.values():
        assert callable(getattr(exports, target.rpartition(":")[2]))


def test_langgraph_json_check_fails_when_a_version_is_missing(tmp_path: Path) -> None:
    """A stale langgraph.json (a version missing) fails the check with what to run."""
    stale = json.loads((ROOT / "langgraph.json").read_text())
    stale["graphs"].popitem()
    path = tmp_path / "langgraph.json"
    path.write_text(json.dumps(stale, indent=2) + "\n")
    assert write_langgraph_json(["--check", "--path", str(path)]) == 1


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
    """langgraph dev loads every registered version, and a Studio-style run of
    streaming-chat 1.0.0 streams the model's tokens."""
    found = httpx.post(f"{langgraph_dev}/assistants/search", json={"limit": 100}, timeout=30)
    assert found.status_code == 200
    loaded = {a["graph_id"] for a in found.json()}
    assert loaded == {g.ref.replace("::", "-") for g in build_registry()}
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
