"""examples/node/stream.mjs, examples/node/eventsource.mjs (POST /start, then the eventsource
package), examples/python/stream.py, and the front-end protocols' examples/node/aisdk.mjs and
agui.mjs against a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.openai_standin import OpenAIStandIn, Reply, ToolCall
from tests.conftest import ServerFactory
from tests.support.dropping_proxy import dropping_proxy
from tests.support.node import node as shared_node
from tests.support.node import require_packages
from tests.support.registries import agent_registry

ROOT = Path(__file__).resolve().parents[2]
NODE_EXAMPLES = ROOT / "examples/node"
TIMEOUT = 30

Command = Callable[..., list[str]]


def node() -> str:
    return shared_node("the Node examples need Node 18 or newer")


def node_client(*args: str) -> list[str]:
    return [node(), str(ROOT / "examples/node/stream.mjs"), *args]


def node_eventsource_client(*args: str) -> list[str]:
    require_packages(NODE_EXAMPLES)
    return [node(), str(NODE_EXAMPLES / "eventsource.mjs"), *args]


def python_client(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "examples/python/stream.py"), *args]


@pytest.fixture(
    params=[node_client, node_eventsource_client, python_client],
    ids=["node", "node-eventsource", "python"],
)
def client_command(request: pytest.FixtureRequest) -> Command:
    command: Command = request.param
    return command


def run(command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "API_KEY"} | env
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
        check=False,
        env=environment,
    )


def split_output(stdout: str) -> tuple[str, dict[str, Any]]:
    """The streamed text, and the final metadata printed after a blank line."""
    text, sep, metadata = stdout.rpartition("\n\n")
    assert sep, f"no blank line before the metadata in {stdout!r}"
    return text, json.loads(metadata)


def test_client_prints_the_tokens_then_the_final_metadata(
    client_command: Command, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """The client prints exactly the streamed text, then the final frame's metadata as JSON."""
    tokens = ["Hel", "lo", ", wor", "ld ", "é✓"]
    upstream.enqueue(Reply(tokens=tokens))
    server = make_server()

    result = run(client_command(server.url, "Say hello"))

    assert result.returncode == 0, result.stderr
    text, metadata = split_output(result.stdout)
    assert text == "".join(tokens)
    assert metadata["finishReason"] == "stop"
    assert metadata["graphType"].startswith("streaming-chat::")
    assert metadata["usage"]["outputTokens"] == len(tokens)
    assert len(metadata["threadId"]) == 32  # made up by the server: none was given
    assert upstream.seen[-1].messages[-1] == {"role": "user", "content": "Say hello"}


def test_client_continues_the_thread_it_is_given(
    client_command: Command, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """With a thread id the second run's model call carries the first turn."""
    upstream.enqueue(Reply(tokens=["First ", "answer"]), Reply(tokens=["Second"]))
    server = make_server()

    first = run(client_command(server.url, "one", "example-thread"))
    second = run(client_command(server.url, "two", "example-thread"))

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert split_output(second.stdout)[1]["threadId"] == "example-thread"
    assert [(m["role"], m["content"]) for m in upstream.seen[-1].messages] == [
        ("user", "one"),
        ("assistant", "First answer"),
        ("user", "two"),
    ]


def test_client_prints_the_first_token_before_the_reply_ends(
    client_command: Command, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """Tokens reach the client's stdout while the upstream is still sending the reply."""
    upstream.enqueue(Reply(token_count=8, delay=0.2))
    server = make_server()
    proc = subprocess.Popen(
        client_command(server.url, "Tell me a story"), stdout=subprocess.PIPE, cwd=ROOT
    )
    watchdog = threading.Timer(TIMEOUT, proc.kill)
    watchdog.start()
    try:
        assert proc.stdout is not None
        seen = b""
        while b"Once" not in seen:
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, f"the client exited before printing a token: {seen!r}"
            seen += chunk
        sent = upstream.seen[-1]
        assert not sent.finished
        assert sent.tokens_sent < 8
        rest, _ = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0
        text, _ = split_output((seen + rest).decode())
        assert text == "".join(Reply(token_count=8).words())
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_client_reports_an_error_frame(
    client_command: Command, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """An upstream failure reaches the client as an error and a non-zero exit status."""
    upstream.enqueue(Reply(status=500))
    server = make_server()

    result = run(client_command(server.url, "hello"))

    assert result.returncode == 1
    assert result.stderr.count("upstream_error") == 1  # and no reconnect that reports it again
    assert "outputTokens" not in result.stdout


def test_client_reports_a_refusal(
    client_command: Command, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """A request refused before streaming prints the status and the error code."""
    server = make_server(max_message_chars=5)

    result = run(client_command(server.url, "far too long a message"))

    assert result.returncode == 1
    assert "refused (422): validation_error" in result.stderr
    assert upstream.seen == []


def test_client_sends_the_api_key_from_the_environment(
    client_command: Command, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """With API_KEYS on the server, the client is refused without API_KEY and served with it."""
    server = make_server(api_keys="example-key")

    refused = run(client_command(server.url, "hello"))
    served = run(client_command(server.url, "hello"), API_KEY="example-key")

    assert refused.returncode == 1
    assert "refused (401): unauthorized" in refused.stderr
    assert served.returncode == 0, served.stderr
    assert split_output(served.stdout)[1]["finishReason"] == "stop"


def test_eventsource_client_resumes_after_a_dropped_connection(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """Cut mid-reply, the eventsource package reconnects with Last-Event-ID: the text comes once."""
    upstream.enqueue(Reply(token_count=40, delay=0.05))
    words = Reply(token_count=40).words()
    server = make_server()
    with dropping_proxy(server.url, cut_after=300) as proxy:
        result = run(node_eventsource_client(proxy.url, "Tell me a story"))

    assert result.returncode == 0, result.stderr
    text, metadata = split_output(result.stdout)
    assert text == "".join(words)
    assert metadata["finishReason"] == "stop"
    assert "(reconnecting:" in result.stderr
    assert proxy.cuts == 1
    first, again = proxy.stream_requests()
    assert first.last_event_id is None
    assert again.target == first.target
    assert again.last_event_id is not None
    assert 0 < int(again.last_event_id) < len(words)
    assert len(upstream.seen) == 1


# --- The front-end protocols' clients: a tool turn with approval, one command each ----------

NOTE = {"title": "Demo", "text": "The demo is on Friday"}


def _front_end_example(script: str) -> list[str]:
    """examples/node/<script>, with the packages examples/node/package.json pins."""
    require_packages(NODE_EXAMPLES)
    return [node(), str(NODE_EXAMPLES / script)]


@pytest.mark.parametrize("decline", [False, True], ids=["approve", "decline"])
@pytest.mark.parametrize("script", ["aisdk.mjs", "agui.mjs"])
def test_front_end_example_streams_a_tool_turn_with_approval(
    script: str, decline: bool, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """aisdk.mjs (the AI SDK's AbstractChat) and agui.mjs (AG-UI's HttpAgent) send a message
    the model answers with save_note, answer its approval, and print the rest of the turn."""
    upstream.enqueue(
        Reply(tokens=[], tool_calls=[ToolCall("save_note", NOTE, id="n1")]),
        Reply(tokens=["Done", " here."]),
    )
    server = make_server(registry=agent_registry())
    flags = ["--decline"] if decline else []

    result = run([*_front_end_example(script), server.url, "Note the demo", "ex-thread", *flags])

    assert result.returncode == 0, result.stderr
    assert "save_note" in result.stdout
    assert "Done here." in result.stdout
    tool_result = upstream.seen[-1].messages[-1]
    assert tool_result["role"] == "tool"
    assert ("declined" in tool_result["content"]) is decline
    assert ("data-note" in result.stdout or "attachment" in result.stdout) is not decline
