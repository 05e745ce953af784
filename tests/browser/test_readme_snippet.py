"""docs/stream-in-browser.js, the README's browser snippet, run in Chromium on a live server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error, Page

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory

SNIPPET = (Path(__file__).resolve().parents[2] / "docs/stream-in-browser.js").read_text()

RUN = """async (body) => {
  const tokens = [];
  const final = await streamChat(body, (token) => tokens.push(token));
  return { tokens, final };
}"""

BODY = {
    "threadId": "readme-thread",
    "userId": "user-001",
    "graphType": "streaming-chat",
    "graphSettings": {"graphType": "streaming-chat::1.1.0", "style": "concise"},
    "message": {"content": "Tell me a story about a space explorer"},
}


def test_snippet_streams_tokens_and_returns_the_final_payload(
    page: Page, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """The snippet hands over each token in order and returns the final frame's payload."""
    tokens = ["Once", " upon", " a", " time"]
    upstream.enqueue(Reply(tokens=tokens, delay=0.02))
    # The page's own policy forbids inline scripts; the snippet runs on a page without it.
    server = make_server(playground=False)
    page.goto(server.url + "/graph-types")
    page.add_script_tag(content=SNIPPET)

    result: dict[str, Any] = page.evaluate(RUN, BODY)

    assert result["tokens"] == tokens
    assert result["final"]["text"] == "".join(tokens)
    assert result["final"]["metadata"]["threadId"] == "readme-thread"
    assert result["final"]["metadata"]["graphType"] == "streaming-chat::1.1.0"


def test_snippet_raises_on_an_error_frame(
    page: Page, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """An upstream failure surfaces as a rejected promise carrying the error code."""
    upstream.enqueue(Reply(status=500))
    server = make_server(playground=False)
    page.goto(server.url + "/graph-types")
    page.add_script_tag(content=SNIPPET)

    with pytest.raises(Error, match="upstream_error"):
        page.evaluate(RUN, BODY)
