"""The playground with the tool-agent graph: steps, citations, notes and approvals in Chromium."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, expect

from bench.openai_standin import OpenAIStandIn, Reply, ToolCall
from tests.browser.playground import Playground, start_bodies
from tests.conftest import ServerFactory
from tests.support.live_server import LiveServer
from tests.support.registries import agent_registry


def offline_agent(make_server: ServerFactory) -> LiveServer:
    """A server whose tool-agent runs on the offline model (it calls tools by rules)."""
    return make_server(registry=agent_registry(), openai_api_key=None, offline_token_delay_ms=5)


def open_agent(playground: Playground, server: LiveServer) -> None:
    playground.open(server.url)
    playground.choose_graph("tool-agent")
    expect(playground.page.get_by_label("Version")).to_have_value("tool-agent::1.0.0")


def history(server: LiveServer, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The thread's messages as GET /threads/{id}/messages returns them."""
    response = httpx.get(
        f"{server.url}/threads/{body['threadId']}/messages", params={"userId": body["userId"]}
    )
    response.raise_for_status()
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


# One read of the reply and its first step, so a status and an input are never from two moments.
READ_STEP = """reply => {
  const step = reply.querySelector("details.step");
  const input = step && step.querySelector(".step-input").textContent;
  return [reply.dataset.status, step && [step.dataset.status, input]];
}"""


def watch_step(
    playground: Playground, reply: Locator, timeout: float = 20.0
) -> list[tuple[str, str]]:
    """Poll the reply's first step until the reply ends; each distinct (status, input) seen."""
    seen: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout
    while True:
        status, step = reply.evaluate(READ_STEP)
        if status != "streaming":
            return seen
        if step is not None and (not seen or seen[-1] != tuple(step)):
            seen.append((step[0], step[1]))
        assert time.monotonic() < deadline, f"the reply never ended; saw {seen!r}"
        playground.page.wait_for_timeout(20)


def test_calculator_step_streams_its_input_then_shows_output_and_answer(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """A tool step runs while its input grows, ends done with output 391, and the answer follows."""
    call = ToolCall("calculator", {"expression": "17*23"}, id="c1")
    upstream.enqueue(
        Reply(tokens=["Let me ", "work it out."], tool_calls=[call], delay=0.15),
        Reply(tokens=["17*23 ", "is ", "391."]),
    )
    server = make_server(registry=agent_registry())
    open_agent(playground, server)

    reply = playground.send("What is 17*23?")
    seen = watch_step(playground, reply)

    assert playground.wait_ended(reply) == "done"
    raw = call.json()
    growing = [text for status, text in seen if status == "running" and text and text != raw]
    assert growing, f"the input was never seen part-way: {seen!r}"
    assert all(raw.startswith(text) for text in growing)
    step = playground.open_step(playground.steps(reply).first)
    expect(step).to_have_attribute("data-status", "done")
    expect(step.locator(".step-name")).to_have_text("calculator")
    expect(step.locator(".step-status")).to_have_text("done")
    assert step.locator(".step-input").text_content() == '{\n  "expression": "17*23"\n}'
    expect(step.locator(".step-output")).to_have_text("391")
    expect(reply.locator(".interim")).to_have_text("Let me work it out.")
    assert reply.locator(".text").text_content() == "17*23 is 391."
    expect(reply.locator(".metrics")).to_contain_text("1 step")
    assert playground.page_errors == []


def test_failing_tool_shows_an_error_step_and_parallel_calls_show_a_step_each(
    make_server: ServerFactory, upstream: OpenAIStandIn, playground: Playground
) -> None:
    """Two calls in one message are two steps, in order; the one whose tool raised says error."""
    upstream.enqueue(
        Reply(
            tokens=[],
            tool_calls=[
                ToolCall("calculator", {"expression": "1/0"}, id="bad"),
                ToolCall("calculator", {"expression": "2+2"}, id="good"),
            ],
        ),
        Reply(tokens=["One failed; 2+2 is 4."]),
    )
    server = make_server(registry=agent_registry())
    open_agent(playground, server)

    reply = playground.send("Compute 1/0 and 2+2")

    assert playground.wait_ended(reply) == "done"
    steps = playground.steps(reply)
    expect(steps).to_have_count(2)
    expect(steps.nth(0)).to_have_attribute("data-status", "error")
    expect(steps.nth(0).locator(".step-status")).to_have_text("error")
    expect(steps.nth(0).locator(".step-output")).to_contain_text("division by zero")
    expect(steps.nth(1)).to_have_attribute("data-status", "done")
    expect(steps.nth(1).locator(".step-output")).to_have_text("4")
    assert reply.locator(".text").text_content() == "One failed; 2+2 is 4."
    assert playground.page_errors == []


def test_docs_question_shows_its_citations_under_the_answer(
    make_server: ServerFactory, playground: Playground
) -> None:
    """search_docs' citations are listed under the reply, with no link out; the text is final."""
    server = offline_agent(make_server)
    bodies = start_bodies(playground.page)
    open_agent(playground, server)

    reply = playground.send("How do I add a graph version?")

    assert playground.wait_ended(reply) == "done"
    expect(playground.steps(reply)).to_have_count(1)
    expect(playground.steps(reply).first.locator(".step-name")).to_have_text("search_docs")
    citations = reply.get_by_role("region", name="Sources").get_by_role("listitem")
    expect(citations.first.locator(".citation-title")).to_have_text("Add a graph version")
    expect(citations.first.locator(".citation-source")).to_have_text(
        "README.md#add-a-graph-version"
    )
    expect(citations.first.locator(".citation-snippet")).not_to_be_empty()
    expect(reply.locator(".attachments a")).to_have_count(0)
    answer = history(server, bodies[-1])[-1]
    assert answer["role"] == "assistant"
    assert reply.locator(".text").text_content() == answer["content"]
    assert playground.page_errors == []


def test_remember_asks_and_approve_continues_in_the_same_reply_with_a_note(
    make_server: ServerFactory, playground: Playground, tmp_path: Path
) -> None:
    """A save_note question shows Approve and Decline; Approve resumes the thread and a note
    appears."""
    server = offline_agent(make_server)
    bodies = start_bodies(playground.page)
    page = playground.page
    open_agent(playground, server)
    playground.wait_ended(playground.send("What is 17*23?"))
    playground.wait_ended(playground.send("How do I add a graph version?"))

    reply = playground.send("Remember that the demo is on Friday")

    assert playground.wait_ended(reply) == "interrupted"
    question = reply.get_by_role("group", name="Save the note 'the demo is on Friday'?")
    expect(question).to_be_visible()
    expect(playground.steps(reply).first).to_have_attribute("data-status", "waiting")
    expect(reply.locator(".metrics")).to_contain_text("interrupted")
    approve = question.get_by_role("button", name="Approve")
    decline = question.get_by_role("button", name="Decline")
    expect(approve).to_be_enabled()

    approve.click()

    expect(approve).to_be_disabled()
    expect(decline).to_be_disabled()
    assert playground.wait_ended(reply) == "done"
    expect(playground.replies).to_have_count(3)  # continued in the reply that asked
    expect(question.get_by_role("status")).to_have_text("Approved.")
    note = reply.get_by_role("region", name="Note: the demo is on Friday")
    expect(note.locator(".note-title")).to_have_text("the demo is on Friday")
    expect(playground.steps(reply).first).to_have_attribute("data-status", "done")
    expect(reply.locator(".text")).to_have_text("Saved the note 'the demo is on Friday'.")
    assert bodies[-1]["resume"] == "approve"
    assert "message" not in bodies[-1]
    assert bodies[-1]["threadId"] == bodies[-2]["threadId"]
    page.set_viewport_size({"width": 1000, "height": 1500})
    shot = tmp_path / "playground-agent.png"
    page.screenshot(path=shot, full_page=True)
    assert shot.stat().st_size > 0
    assert playground.page_errors == []


def test_decline_tells_the_agent_and_saves_no_note(
    make_server: ServerFactory, playground: Playground
) -> None:
    """Decline resumes with "decline": the answer says so, and no note is attached."""
    server = offline_agent(make_server)
    bodies = start_bodies(playground.page)
    open_agent(playground, server)
    reply = playground.send("Remember that milk is out")
    assert playground.wait_ended(reply) == "interrupted"

    decline = reply.get_by_role("button", name="Decline")
    decline.click()

    expect(decline).to_be_disabled()
    expect(reply.get_by_role("button", name="Approve")).to_be_disabled()
    assert playground.wait_ended(reply) == "done"
    expect(reply.locator(".text")).to_contain_text("declined")
    expect(reply.locator(".note")).to_have_count(0)
    assert bodies[-1]["resume"] == "decline"
    assert playground.page_errors == []


def test_a_message_while_a_question_waits_is_held_back(
    make_server: ServerFactory, playground: Playground
) -> None:
    """While the agent waits for an answer the page sends no new message and says why."""
    server = offline_agent(make_server)
    bodies = start_bodies(playground.page)
    open_agent(playground, server)
    reply = playground.send("Remember that milk is out")
    assert playground.wait_ended(reply) == "interrupted"

    playground.message_box.fill("never mind")
    playground.message_box.press("Enter")

    expect(reply.locator(".approval-hint")).to_be_visible()
    expect(playground.message_box).to_have_value("never mind")
    expect(playground.page.locator("#transcript li.message")).to_have_count(2)
    assert len(bodies) == 1


def test_reload_shows_tool_steps_from_the_threads_history(
    make_server: ServerFactory, playground: Playground
) -> None:
    """After a reload a tool turn is one reply again: its step with input and output, then the
    answer."""
    server = offline_agent(make_server)
    open_agent(playground, server)
    playground.wait_ended(playground.send("What is 17*23?"))
    before = playground.transcript()

    playground.reload()

    expect(playground.page.locator("#transcript li.message")).to_have_count(2)
    assert playground.transcript() == before
    assert "391" in before[1][1]
    reply = playground.replies.last
    step = playground.open_step(playground.steps(reply).first)
    expect(step).to_have_attribute("data-status", "done")
    expect(step.locator(".step-name")).to_have_text("calculator")
    assert step.locator(".step-input").text_content() == '{\n  "expression": "17*23"\n}'
    expect(step.locator(".step-output")).to_have_text("391")
    assert playground.page_errors == []


def test_a_question_pending_across_a_reload_is_asked_when_the_next_message_is_refused(
    make_server: ServerFactory, playground: Playground
) -> None:
    """The history cannot carry the question; the server's interrupt_pending refusal does, so
    the page asks it on the waiting reply and keeps the message for later."""
    server = offline_agent(make_server)
    open_agent(playground, server)
    playground.wait_ended(playground.send("Remember that milk is out"))
    playground.reload()
    reply = playground.replies.last
    expect(playground.steps(reply).first).to_have_attribute("data-status", "waiting")
    expect(reply.locator(".hint")).to_contain_text("waiting for an answer")

    playground.message_box.fill("what now?")
    playground.message_box.press("Enter")

    question = reply.get_by_role("group", name="Save the note 'milk is out'?")
    expect(question).to_be_visible()
    expect(playground.message_box).to_have_value("what now?")
    expect(playground.page.locator("#transcript li.message")).to_have_count(2)
    question.get_by_role("button", name="Approve").click()
    assert playground.wait_ended(reply) == "done"
    expect(reply.locator(".note-title")).to_have_text("milk is out")

    playground.message_box.press("Enter")
    assert playground.wait_ended(playground.replies.last) == "done"
    expect(playground.page.locator("#transcript li.message")).to_have_count(4)
    assert playground.page_errors == []
