"""The playground follows a turn at POST /start's streamUrl and survives a dropped connection:
in Chromium, through a loopback proxy that cuts the first stream mid-way."""

from __future__ import annotations

import json

from playwright.sync_api import Page, Route, expect

from bench.openai_standin import OpenAIStandIn, Reply
from tests.browser.playground import Playground
from tests.conftest import ServerFactory
from tests.support.dropping_proxy import dropping_proxy
from tests.support.registries import agent_registry

TOKENS = 40
SLOW = Reply(token_count=TOKENS, delay=0.05)
WORDS = Reply(token_count=TOKENS).words()
# Body bytes (gzipped) of the first stream that get through: a few frames, far from the end.
CUT_AFTER = 300

# Every text an assistant reply's .text element is set to, in order: a chunk shown twice or
# skipped would show up here even though final.text replaces the text at the end.
RECORD_TEXTS = """
window.replyTexts = [];
new MutationObserver((records) => {
  for (const record of records) {
    if (!(record.target instanceof Element)) continue;
    if (!record.target.matches("li.message.assistant > .text")) continue;
    for (const node of record.addedNodes) {
      if (node.nodeType === Node.TEXT_NODE) window.replyTexts.push(node.data);
    }
  }
}).observe(document, { childList: true, subtree: true });
"""


def reply_texts(page: Page) -> list[str]:
    """The reply texts the page showed, each once, as they came."""
    texts: list[str] = page.evaluate("window.replyTexts")
    return [t for i, t in enumerate(texts) if i == 0 or texts[i - 1] != t]


def growing(words: list[str]) -> list[str]:
    """The texts of a reply that gets ``words`` one at a time."""
    return ["".join(words[: i + 1]) for i in range(len(words))]


def test_reply_survives_a_dropped_connection_with_every_chunk_once(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """Cut mid-run, EventSource resumes by itself: every word shows exactly once, one model call."""
    upstream.enqueue(SLOW)
    server = make_server()
    playground.page.add_init_script(RECORD_TEXTS)
    with dropping_proxy(server.url, cut_after=CUT_AFTER) as proxy:
        playground.open(proxy.url)

        reply = playground.send("Tell me a story")

        assert playground.wait_ended(reply) == "done"
    assert reply_texts(playground.page) == growing(WORDS)
    assert reply.locator(".text").text_content() == "".join(WORDS)
    assert proxy.cuts == 1
    first, again = proxy.stream_requests()
    assert first.last_event_id is None
    assert again.target == first.target
    assert again.last_event_id is not None
    assert 0 < int(again.last_event_id) < TOKENS  # cut mid-run, after some frames
    assert reply.get_attribute("data-reconnects") == "1"
    expect(playground.page.locator("#notice")).to_be_hidden()
    assert len(upstream.seen) == 1
    assert upstream.seen[0].finished
    assert playground.page_errors == []


def test_reply_survives_a_dropped_connection_with_an_api_key(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """With API_KEYS the page follows with fetch and resumes alike: key and Last-Event-ID resent."""
    upstream.enqueue(SLOW)
    server = make_server(api_keys="right-key")
    playground.page.add_init_script(RECORD_TEXTS)
    playground.page.add_init_script(
        "localStorage.setItem('agent-playground', JSON.stringify({apiKey: 'right-key'}))"
    )
    with dropping_proxy(server.url, cut_after=CUT_AFTER) as proxy:
        playground.open(proxy.url)

        reply = playground.send("Tell me a story")

        assert playground.wait_ended(reply) == "done"
    assert reply_texts(playground.page) == growing(WORDS)
    first, again = proxy.stream_requests()
    assert first.headers["authorization"] == again.headers["authorization"] == "Bearer right-key"
    assert again.last_event_id is not None
    assert 0 < int(again.last_event_id) < TOKENS
    assert reply.get_attribute("data-reconnects") == "1"
    assert len(upstream.seen) == 1


def test_resume_turn_goes_through_start_and_survives_a_dropped_connection(
    make_server: ServerFactory, playground: Playground
) -> None:
    """Approve goes through POST /start; that turn's stream is cut, resumed, and ends done."""
    # The offline model calls tools by rules; slow tokens keep the resumed turn going a while.
    server = make_server(registry=agent_registry(), openai_api_key=None, offline_token_delay_ms=60)
    starts: list[dict[str, object]] = []
    playground.page.on(
        "request",
        lambda r: (
            starts.append(json.loads(r.post_data or "{}"))
            if r.method == "POST" and r.url.endswith("/start")
            else None
        ),
    )
    # The turn that asks is the first stream, the resumed turn the second: cut that one.
    with dropping_proxy(server.url, cut_after=400, cut_nth=2) as proxy:
        playground.open(proxy.url)
        playground.choose_graph("tool-agent")
        reply = playground.send("Remember that the demo is on Friday")
        assert playground.wait_ended(reply) == "interrupted"

        reply.get_by_role("button", name="Approve").click()

        assert playground.wait_ended(reply) == "done"
    expect(reply.locator(".text")).to_have_text("Saved the note 'the demo is on Friday'.")
    expect(playground.steps(reply).first).to_have_attribute("data-status", "done")
    assert [body.get("resume") for body in starts] == [None, "approve"]
    assert proxy.cuts == 1
    streams = proxy.stream_requests()
    assert len(streams) == 3
    assert streams[2].target == streams[1].target
    assert streams[2].last_event_id is not None
    assert reply.get_attribute("data-reconnects") == "1"
    assert playground.page_errors == []


def test_a_stream_that_cannot_be_resumed_ends_the_reply_with_an_error(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """A refused reconnect (the run is gone) ends the reply with an error, not a hang."""
    upstream.enqueue(SLOW, Reply(tokens=["still ", "here"]))
    server = make_server(reconnect_grace_seconds=1)
    seen: list[str] = []

    def refuse_the_reconnect(route: Route) -> None:
        seen.append(route.request.url)
        if len(seen) != 2:
            route.continue_()
        else:
            route.fulfill(
                status=404,
                content_type="application/json",
                body='{"error":{"code":"run_not_found","message":"gone","requestId":null}}',
            )

    playground.page.route("**/stream/*", refuse_the_reconnect)
    with dropping_proxy(server.url, cut_after=CUT_AFTER) as proxy:
        playground.open(proxy.url)

        reply = playground.send("Tell me a story")

        assert playground.wait_ended(reply) == "error"
        expect(reply.get_by_role("alert")).to_contain_text("could not be resumed")
        assert len(seen) == 2  # the stream, and the one reconnect EventSource made
        assert proxy.cuts == 1
        playground.wait_idle()
        second = playground.send("Are you there?")  # the first run ends after its grace
        assert playground.wait_ended(second) == "done"
    assert second.locator(".text").text_content() == "still here"


def test_an_error_frame_ends_the_reply_and_closes_the_stream(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """A server `event: error` frame (a model provider failure) is shown as an alert on the
    reply and the stream closed: no reconnect follows it, and the page stays usable."""
    upstream.enqueue(Reply(status=500))
    server = make_server()
    playground.open(server.url)

    reply = playground.send("hello")

    assert playground.wait_ended(reply) == "error"
    expect(reply.get_by_role("alert")).to_contain_text("upstream_error")
    # retry: is 1000 ms; an EventSource left open would have asked again within this wait.
    playground.page.wait_for_timeout(2500)
    streams = [url for url in playground.requests if "/stream/" in url]
    assert len(streams) == 1, streams
    assert reply.get_attribute("data-reconnects") is None
    playground.wait_idle()
    expect(playground.page.get_by_role("button", name="Send")).to_be_enabled()
