"""LangGraph's React hook ``useStream`` in Chromium against our LangGraph API: page.jsx, bundled
with React and the SDK by esbuild at test time, served from its own loopback origin."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from bench.openai_standin import OpenAIStandIn, Reply
from tests.langgraph_js.conftest import Target
from tests.langgraph_js.node_project import run_node

WORDS = [f"w{i} " for i in range(12)]
SLOW_ANSWER = "".join(WORDS)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """page.jsx bundled into a temp dir and served by a static server on a loopback port."""
    out = tmp_path_factory.mktemp("use-stream-page")
    built = run_node(["build.mjs", str(out)], timeout=120)
    if built.returncode != 0:
        pytest.fail(f"esbuild could not bundle page.jsx:\n{built.stdout}\n{built.stderr}")
    handler = functools.partial(_Quiet, directory=str(out))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, name="use-stream-page", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def server_overrides(page_origin: str) -> dict[str, Any]:
    """Our server lets the page's origin in (langgraph dev lets every origin in)."""
    return {"cors_origins": page_origin}


class ChatPage:
    """page.jsx in a tab, and the requests it made."""

    def __init__(self, page: Page, origin: str, target: Target) -> None:
        self.page = page
        self.origin = origin
        self.target = target
        self.requests: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))

    def open(self, assistant: str, **params: str) -> None:
        query = urlencode({"apiUrl": self.target.url, "assistantId": assistant, **params})
        self.page.goto(f"{self.origin}/?{query}")
        expect(self.page.locator("main[data-ready]")).to_be_visible()

    def send(self, text: str) -> None:
        self.page.fill("#draft", text)
        self.page.click("#send")

    def wait_idle(self, timeout: float = 15_000) -> None:
        expect(self.page.locator('main[data-loading="false"]')).to_be_visible(timeout=timeout)

    def messages(self) -> list[tuple[str, str]]:
        items = self.page.locator("#messages li")
        return [
            (items.nth(i).get_attribute("data-type") or "", items.nth(i).inner_text())
            for i in range(items.count())
        ]

    def last_ai(self) -> str:
        ai = [text for kind, text in self.messages() if kind == "ai"]
        return ai[-1] if ai else ""

    def renders(self) -> list[dict[str, Any]]:
        renders: list[dict[str, Any]] = self.page.evaluate("window.__renders")
        return renders

    def errors(self) -> list[str]:
        errors: list[str] = self.page.evaluate("window.__errors")
        return errors + ([e] if (e := self.page.inner_text("#error")) else [])

    def thread_id(self) -> str:
        return self.page.inner_text("#thread")

    def foreign_requests(self) -> list[str]:
        """Requests to anything but the page's origin and the API: there must be none."""
        return [u for u in self.requests if not u.startswith((self.origin, self.target.url))]


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def chat(page: Page, page_origin: str, chat_server: Target) -> ChatPage:
    return ChatPage(page, page_origin, chat_server)


def test_submit_shows_tokens_before_the_run_finishes(
    chat: ChatPage, upstream: OpenAIStandIn
) -> None:
    """submit() creates a thread, the AI message grows token by token while isLoading, and ends
    as the whole reply; the page talks to nothing but its origin and the API."""
    upstream.default = Reply(tokens=WORDS, delay=0.08)
    chat.open(chat.target.chat)
    chat.send("Hello from the browser")
    expect(chat.page.locator('main[data-loading="true"]')).to_be_visible()
    chat.wait_idle()

    assert chat.messages() == [("human", "Hello from the browser"), ("ai", SLOW_ANSWER.strip())]
    assert chat.errors() == []
    assert len(chat.thread_id()) > 0
    partial = {r["last"] for r in chat.renders() if r["loading"] and r["last"]}
    assert any(0 < len(p) < len(SLOW_ANSWER.strip()) for p in partial), partial
    assert all(SLOW_ANSWER.startswith(p) for p in partial)
    assert upstream.seen[-1].messages[-1] == {"role": "user", "content": "Hello from the browser"}
    assert chat.foreign_requests() == []


def test_stop_ends_the_stream_and_the_run(chat: ChatPage, upstream: OpenAIStandIn) -> None:
    """stop() while tokens stream: the page stops loading at once, the server stops the model
    call (the run is cancelled with its connection), and the thread takes the next turn."""
    upstream.enqueue(Reply(token_count=80, delay=0.1), Reply(tokens=["Fine."]))
    chat.open(chat.target.chat)
    chat.send("tell me a long story")
    assert wait_for(lambda: len(chat.last_ai().split()) >= 3), chat.messages()
    chat.page.click("#stop")
    chat.wait_idle(timeout=5_000)
    stopped = chat.last_ai()
    assert 3 <= len(stopped.split()) < 80
    assert wait_for(lambda: upstream.seen[0].closed_by_client), "the model call went on"
    assert upstream.seen[0].tokens_sent < 80
    assert chat.last_ai() == stopped  # nothing arrived after stop()

    chat.send("after stop")
    chat.wait_idle()
    assert chat.messages()[-2:] == [("human", "after stop"), ("ai", "Fine.")]
    assert chat.errors() == []


@pytest.mark.parametrize("history", ["0", "1"], ids=["getState", "getHistory"])
def test_reload_with_the_thread_id_shows_its_messages(
    chat: ChatPage, upstream: OpenAIStandIn, history: str
) -> None:
    """Two turns, then a reload with ?threadId=: the hook loads the thread (GET state, or POST
    history with fetchStateHistory) and shows both turns without running the graph."""
    upstream.enqueue(Reply(tokens=["First ", "answer"]), Reply(tokens=["Second ", "answer"]))
    chat.open(chat.target.chat, history=history)
    chat.send("first question")
    chat.wait_idle()
    chat.send("second question")
    chat.wait_idle()
    before = chat.messages()
    assert before == [
        ("human", "first question"),
        ("ai", "First answer"),
        ("human", "second question"),
        ("ai", "Second answer"),
    ]
    thread_id = chat.thread_id()
    calls = len(upstream.seen)

    chat.page.reload()
    expect(chat.page.locator("main[data-ready]")).to_be_visible()
    assert chat.thread_id() == thread_id
    expect(chat.page.locator("#messages li")).to_have_count(4)
    assert chat.messages() == before
    assert len(upstream.seen) == calls
    path = "/history" if history == "1" else "/state"
    assert any(f"/threads/{thread_id}{path}" in url for url in chat.requests), chat.requests
    assert chat.errors() == []


def test_reconnect_on_mount_rejoins_a_running_run(chat: ChatPage, upstream: OpenAIStandIn) -> None:
    """With reconnectOnMount, a reload mid-stream rejoins the run (joinStream from the start,
    Last-Event-ID -1): the reply completes on the new page and the model is called once."""
    upstream.enqueue(Reply(tokens=WORDS, delay=0.15))
    chat.open(chat.target.chat, reconnect="1")
    chat.send("a run that outlives its page")
    assert wait_for(lambda: len(chat.last_ai().split()) >= 2), chat.messages()
    thread_id = chat.thread_id()

    chat.page.reload()
    expect(chat.page.locator("main[data-ready]")).to_be_visible()
    assert wait_for(lambda: chat.last_ai() == SLOW_ANSWER.strip(), 15), (
        chat.messages(),
        chat.errors(),
    )
    chat.wait_idle()
    assert chat.thread_id() == thread_id
    assert chat.messages() == [
        ("human", "a run that outlives its page"),
        ("ai", SLOW_ANSWER.strip()),
    ]
    assert len(upstream.seen) == 1
    assert not upstream.seen[0].closed_by_client
    assert any(f"/threads/{thread_id}/runs/" in url for url in chat.requests if "/stream" in url)
    assert chat.errors() == []


def test_interrupt_shows_and_resume_approves(
    page: Page, page_origin: str, offline_server: Target
) -> None:
    """tool-agent's save_note interrupt reaches stream.interrupt; submit(undefined, {command:
    {resume: "approve"}}) finishes the turn with the saved note."""
    chat = ChatPage(page, page_origin, offline_server)
    chat.open(offline_server.agent)
    chat.send("Please remember that the demo is on Friday")
    expect(page.locator("#interrupt")).to_contain_text("save_note")
    expect(page.locator("#interrupt")).to_contain_text("the demo is on Friday")
    chat.wait_idle()
    page.click("#approve")
    expect(page.locator("#messages li").last).to_have_text(
        "Saved the note 'the demo is on Friday'."
    )
    chat.wait_idle()
    expect(page.locator("#interrupt")).to_have_text("")
    assert chat.errors() == []
