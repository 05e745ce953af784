"""docs/stream-in-browser.js, the README's browser snippets (EventSource after POST /start, and
fetch on POST /stream), run in Chromium on a live server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error, Page

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.support.dropping_proxy import dropping_proxy

SNIPPET = (Path(__file__).resolve().parents[2] / "docs/stream-in-browser.js").read_text()

RUN = """async (body) => {
  const tokens = [];
  const final = await streamChat(body, (token) => tokens.push(token));
  return { tokens, final };
}"""

RUN_EVENTSOURCE = """async (body) => {
  const tokens = [];
  const final = await startChat(body, (token) => tokens.push(token));
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


def open_snippet(page: Page, url: str) -> None:
    # The page's own policy forbids inline scripts; the snippet runs on a page without it.
    page.goto(url + "/graph-types")
    page.add_script_tag(content=SNIPPET)


def test_eventsource_snippet_streams_tokens_and_returns_the_final_payload(
    page: Page, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """startChat POSTs /start, follows streamUrl with EventSource, and resolves with final."""
    tokens = ["Once", " upon", " a", " time"]
    upstream.enqueue(Reply(tokens=tokens, delay=0.02))
    server = make_server(playground=False)
    open_snippet(page, server.url)
    urls: list[str] = []
    page.on("request", lambda request: urls.append(f"{request.method} {request.url}"))

    result: dict[str, Any] = page.evaluate(RUN_EVENTSOURCE, BODY)

    assert result["tokens"] == tokens
    assert result["final"]["text"] == "".join(tokens)
    assert result["final"]["metadata"]["threadId"] == "readme-thread"
    request_id = result["final"]["metadata"]["requestId"]
    assert urls == [
        f"POST {server.url}/start",
        f"GET {server.url}/stream/{request_id}?userId=user-001",
    ]


def test_eventsource_snippet_resumes_after_a_dropped_connection(
    page: Page, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """Cut mid-run, startChat's EventSource reconnects by itself: each word arrives exactly once."""
    upstream.enqueue(Reply(token_count=40, delay=0.05))
    words = Reply(token_count=40).words()
    server = make_server(playground=False)
    with dropping_proxy(server.url, cut_after=300) as proxy:
        open_snippet(page, proxy.url)

        result: dict[str, Any] = page.evaluate(RUN_EVENTSOURCE, BODY)

    assert result["tokens"] == words
    assert result["final"]["text"] == "".join(words)
    assert proxy.cuts == 1
    first, again = proxy.stream_requests()
    assert first.last_event_id is None
    assert again.last_event_id is not None
    assert 0 < int(again.last_event_id) < len(words)
    assert len(upstream.seen) == 1


def test_eventsource_snippet_rejects_on_an_error_frame_and_closes(
    page: Page, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """An error frame rejects with its code, and the EventSource is closed, not reconnecting."""
    upstream.enqueue(Reply(status=500))
    server = make_server(playground=False)
    open_snippet(page, server.url)
    streams: list[str] = []
    page.on(
        "request",
        lambda request: streams.append(request.url) if "/stream/" in request.url else None,
    )

    with pytest.raises(Error, match="upstream_error"):
        page.evaluate(RUN_EVENTSOURCE, BODY)
    # retry: is 1000 ms; an EventSource left open would have asked again within this wait.
    page.wait_for_timeout(2500)

    assert len(streams) == 1, streams


def test_eventsource_snippet_rejects_a_refusal_with_its_status(
    page: Page, make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """A body /start refuses rejects with the status and code, and no stream is opened."""
    server = make_server(playground=False, max_message_chars=5)
    open_snippet(page, server.url)

    with pytest.raises(Error, match="422 validation_error"):
        page.evaluate(RUN_EVENTSOURCE, BODY)
    assert upstream.seen == []
