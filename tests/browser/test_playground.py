"""The playground at GET /, driven in headless Chromium against a live server."""

from __future__ import annotations

import re
import time
from pathlib import Path

from playwright.sync_api import expect

from bench.openai_standin import OpenAIStandIn, Reply
from tests.browser.playground import Playground, start_bodies
from tests.conftest import ServerFactory
from tests.identity.tokens import SECRET, hs256


def test_reply_grows_token_by_token_then_matches_the_servers_text(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground, tmp_path: Path
) -> None:
    """The reply is seen growing through intermediate states and ends as the streamed text."""
    upstream.enqueue(Reply(token_count=10, delay=0.15))
    server = make_server()
    playground.open(server.url)

    reply = playground.send("Tell me a story")
    states = playground.watch_growth(reply)

    assert playground.wait_ended(reply) == "done"
    expected = "".join(Reply(token_count=10).words())
    assert reply.locator(".text").text_content() == expected
    partial = [s for s in states if s and s != expected]
    assert len(partial) >= 3, f"too few intermediate states: {states!r}"
    assert all(expected.startswith(s) for s in partial)
    assert partial == sorted(partial, key=len)
    assert playground.transcript() == [("user", "Tell me a story"), ("assistant", expected)]
    expect(playground.page.locator("#notice")).to_be_hidden()  # a new thread is no error
    expect(reply.locator(".metrics")).to_have_text(
        re.compile(r"^TTFT \d+ ms · [\d.]+ tokens/s · 10 tokens · gpt-4o-mini$")
    )
    shot = tmp_path / "playground.png"
    playground.page.screenshot(path=shot)
    assert shot.stat().st_size > 0
    assert playground.page_errors == []
    assert all(url.startswith(server.url + "/") for url in playground.requests), playground.requests


def test_stop_ends_a_long_reply_and_the_next_turn_works(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """Stop ends a reply mid-stream, the model call is abandoned, and the page sends again."""
    upstream.enqueue(Reply(token_count=400, delay=0.05), Reply(tokens=["after ", "stop"]))
    server = make_server()
    playground.open(server.url)

    reply = playground.send("Tell me a very long story")
    expect(reply.locator(".text")).to_contain_text("upon")
    playground.page.get_by_role("button", name="Stop").click()

    assert playground.wait_ended(reply) == "stopped"
    expect(reply.locator(".metrics")).to_contain_text("cancelled")  # POST /cancel's final frame
    kept = reply.locator(".text").text_content() or ""
    assert kept.startswith("Once upon")
    assert len(kept) < len("".join(Reply(token_count=400).words()))
    playground.wait_idle()
    deadline = time.monotonic() + 15
    while not upstream.seen[0].closed_by_client:
        assert time.monotonic() < deadline, "the upstream call was not abandoned"
        time.sleep(0.05)
    assert not upstream.seen[0].finished

    second = playground.send("And now?")
    assert playground.wait_ended(second) == "done"
    assert second.locator(".text").text_content() == "after stop"


def test_stop_aborts_the_request_when_the_server_cannot_cancel(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """Where POST /cancel is missing, Stop closes the stream; the run ends after its grace."""
    upstream.enqueue(Reply(token_count=400, delay=0.05), Reply(tokens=["still ", "here"]))
    server = make_server(reconnect_grace_seconds=1)
    playground.page.route(
        "**/cancel/*",
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            body='{"error":{"code":"not_found","message":"Not Found","requestId":null}}',
        ),
    )
    playground.open(server.url)

    reply = playground.send("Tell me a very long story")
    expect(reply.locator(".text")).to_contain_text("upon")
    playground.page.get_by_role("button", name="Stop").click()

    assert playground.wait_ended(reply) == "stopped"
    expect(reply.locator(".metrics")).to_have_text("Stopped.")
    deadline = time.monotonic() + 15
    while not upstream.seen[0].closed_by_client:
        assert time.monotonic() < deadline, "the upstream call was not abandoned"
        time.sleep(0.05)
    second = playground.send("Are you there?")
    assert playground.wait_ended(second) == "done"
    assert second.locator(".text").text_content() == "still here"


def test_history_notice_when_the_server_cannot_list_messages(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """Where GET /threads/{id}/messages is missing the page says so and still chats."""
    server = make_server()
    playground.page.route(
        "**/threads/*/messages*",
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            body='{"error":{"code":"not_found","message":"Not Found","requestId":null}}',
        ),
    )
    playground.open(server.url)

    expect(playground.page.get_by_role("status")).to_contain_text("cannot list")
    assert playground.wait_ended(playground.send("hello")) == "done"


def test_escape_stops_a_reply(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """Escape in the message box stops the reply, as the Stop button does."""
    upstream.enqueue(Reply(token_count=400, delay=0.05))
    server = make_server()
    playground.open(server.url)

    reply = playground.send("Tell me a very long story")
    expect(reply.locator(".text")).to_contain_text("upon")
    playground.message_box.press("Escape")

    assert playground.wait_ended(reply) == "stopped"


def test_refusal_before_streaming_shows_an_error(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """A request the server refuses with a status code shows the envelope's code and message."""
    server = make_server(max_message_chars=10)
    playground.open(server.url)

    reply = playground.send("a message longer than ten characters")

    assert playground.wait_ended(reply) == "error"
    expect(reply.get_by_role("alert")).to_contain_text("validation_error")
    assert upstream.seen == []


def test_reload_keeps_the_thread_and_the_user(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """After a reload the page sends on the same thread id as the same user."""
    server = make_server()
    bodies = start_bodies(playground.page)
    playground.open(server.url)
    playground.wait_ended(playground.send("first"))

    playground.reload()
    playground.wait_ended(playground.send("second"))

    assert len(bodies) == 2
    assert bodies[0]["threadId"] == bodies[1]["threadId"]
    assert bodies[0]["userId"] == bodies[1]["userId"]
    expect(playground.page.locator("#thread-info")).to_contain_text(bodies[0]["threadId"])
    assert [m["content"] for m in upstream.seen[-1].messages if m["role"] == "user"] == [
        "first",
        "second",
    ]


def test_reload_shows_the_conversation(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """After a reload the transcript is read back from GET /threads/{id}/messages."""
    upstream.enqueue(Reply(tokens=["Hi ", "there"]), Reply(tokens=["Fine, ", "thanks"]))
    server = make_server()
    playground.open(server.url)
    playground.wait_ended(playground.send("hello"))
    playground.wait_ended(playground.send("how are you?"))
    before = playground.transcript()

    playground.reload()

    expect(playground.page.locator("#transcript li.message")).to_have_count(4)
    assert (
        playground.transcript()
        == before
        == [
            ("user", "hello"),
            ("assistant", "Hi there"),
            ("user", "how are you?"),
            ("assistant", "Fine, thanks"),
        ]
    )


def test_new_thread_starts_an_empty_conversation(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """New thread clears the transcript and the next turn carries no earlier messages."""
    server = make_server()
    bodies = start_bodies(playground.page)
    playground.open(server.url)
    playground.wait_ended(playground.send("remember me"))

    playground.page.get_by_role("button", name="New thread").click()

    expect(playground.page.locator("#transcript li")).to_have_count(0)
    expect(playground.message_box).to_be_focused()
    playground.wait_ended(playground.send("who am I?"))
    assert bodies[0]["threadId"] != bodies[1]["threadId"]
    assert bodies[0]["userId"] == bodies[1]["userId"]
    assert [m["content"] for m in upstream.seen[-1].messages] == ["who am I?"]


def test_settings_form_follows_the_versions_schema_and_is_sent(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """The form has each version's fields; what the user sets reaches the model call."""
    server = make_server()
    bodies = start_bodies(playground.page)
    page = playground.page
    playground.open(server.url)
    expect(page.get_by_label("Version")).to_have_value("streaming-chat::1.1.0")
    page.get_by_text("Settings", exact=True).click()

    expect(page.get_by_label("Style").locator("option")).to_have_text(
        ["neutral", "concise", "friendly", "pirate"]
    )
    page.get_by_label("Temperature").fill("0.3")
    page.get_by_label("Max tokens").fill("50")
    page.get_by_label("Style").select_option("pirate")
    playground.wait_ended(playground.send("ahoy"))

    sent = upstream.seen[-1].body
    assert sent["temperature"] == 0.3
    assert sent["max_completion_tokens"] == 50
    assert sent["messages"][0] == {"role": "system", "content": "Answer in the voice of a pirate."}
    assert bodies[-1]["graphSettings"] == {
        "graphType": "streaming-chat::1.1.0",
        "temperature": 0.3,
        "maxTokens": 50,
        "style": "pirate",
    }

    page.get_by_label("Version").select_option("streaming-chat::1.0.0")
    expect(page.get_by_label("Style")).to_have_count(0)
    expect(page.get_by_label("System prompt")).to_be_visible()
    playground.wait_ended(playground.send("plain now"))
    assert bodies[-1]["graphSettings"] == {"graphType": "streaming-chat::1.0.0"}

    playground.reload()
    expect(page.get_by_label("Version")).to_have_value("streaming-chat::1.0.0")


def test_out_of_range_setting_is_caught_before_sending(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """A temperature above the schema's maximum opens the settings and sends nothing."""
    server = make_server()
    page = playground.page
    playground.open(server.url)
    page.get_by_text("Settings", exact=True).click()
    page.get_by_label("Temperature").fill("5")
    page.get_by_text("Settings", exact=True).click()  # folded away again

    playground.message_box.fill("hello")
    playground.message_box.press("Enter")

    expect(page.locator("#settings-panel")).to_have_attribute("open", "")
    expect(page.get_by_label("Temperature")).to_have_js_property("validity.valid", False)
    expect(playground.replies).to_have_count(0)
    assert upstream.seen == []


def test_keyboard_alone_can_send_and_shift_enter_adds_a_line(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """Every control is labelled; Tab reaches the message box; Shift+Enter is a new line."""
    server = make_server()
    page = playground.page
    playground.open(server.url)

    unlabelled = page.evaluate(
        "[...document.querySelectorAll('input, select, textarea')]"
        ".filter(el => el.labels.length === 0).map(el => el.id)"
    )
    assert unlabelled == []
    page.locator("body").focus()
    page.evaluate("document.activeElement.blur()")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "message":
            break
    else:
        raise AssertionError("Tab never reached the message box")
    page.keyboard.type("line one")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("line two")
    expect(playground.replies).to_have_count(0)
    page.keyboard.press("Enter")

    reply = playground.replies.last
    assert playground.wait_ended(reply) == "done"
    assert upstream.seen[-1].messages[-1]["content"] == "line one\nline two"
    expect(reply.locator(".text")).to_have_attribute("aria-live", "polite")
    expect(reply.locator(".text")).to_have_attribute("aria-busy", "false")


def test_api_key_is_asked_for_kept_and_sent(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """On a server with API_KEYS the page asks for a key, sends it, and keeps it across reloads."""
    server = make_server(api_keys="right-key")
    page = playground.page
    playground.open(server.url)
    key = page.get_by_label("API key")
    expect(page.get_by_role("alert")).to_contain_text("needs a credential")
    expect(key).to_be_focused()
    expect(page.get_by_role("button", name="Send")).to_be_disabled()

    key.fill("wrong-key")
    key.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("refused this credential")

    key.fill("right-key")
    key.press("Enter")
    playground.wait_idle()
    expect(page.get_by_role("alert")).to_be_hidden()
    reply = playground.send("hello")
    assert playground.wait_ended(reply) == "done"

    playground.reload()
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(playground.page.locator("#transcript li.message")).to_have_count(2)


def test_a_user_token_makes_the_page_speak_as_its_user(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """With a JWT for alice the page takes alice as its user (GET /me) and its turns work."""
    server = make_server(jwt_secret=SECRET)
    page = playground.page
    playground.open(server.url)
    key = page.get_by_label("API key")
    key.fill(hs256("alice"))
    key.press("Enter")
    playground.wait_idle()
    expect(page.locator("#thread-info")).to_contain_text("user alice")
    reply = playground.send("hello")
    assert playground.wait_ended(reply) == "done"
    assert playground.page_errors == []


def test_phone_sized_screen_fits_without_sideways_scrolling(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground, tmp_path: Path
) -> None:
    """At 360x740 the page does not scroll sideways and Send stays on screen."""
    upstream.enqueue(Reply(tokens=["a-very-long-unbroken-word-" * 8, " and more"]))
    server = make_server()
    page = playground.page
    page.set_viewport_size({"width": 360, "height": 740})
    playground.open(server.url)

    playground.wait_ended(playground.send("hi"))

    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    expect(page.get_by_role("button", name="Send")).to_be_in_viewport()
    expect(playground.message_box).to_be_in_viewport()
    page.screenshot(path=tmp_path / "playground-phone.png")
