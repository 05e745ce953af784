"""The playground page as the tests drive it: what a user types, clicks and reads."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Locator, Page, Request, expect


def start_bodies(page: Page) -> list[dict[str, Any]]:
    """Record the JSON body of every POST /start (a turn) the page sends from now on."""
    bodies: list[dict[str, Any]] = []

    def record(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/start"):
            bodies.append(json.loads(request.post_data or "{}"))

    page.on("request", record)
    return bodies


ENDED = re.compile(r"^(done|stopped|error|interrupted)$")


@dataclass
class Playground:
    page: Page
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def open(self, url: str) -> None:
        """Load the page and wait until it has the graphs and the thread's history."""
        self.page.goto(url)
        self.wait_idle()

    def reload(self) -> None:
        self.page.reload()
        self.wait_idle()

    def wait_idle(self) -> None:
        expect(self.page.locator("body")).to_have_attribute("data-state", "idle")

    @property
    def message_box(self) -> Locator:
        return self.page.get_by_label("Message", exact=True)

    def send(self, text: str) -> Locator:
        """Type ``text``, press Enter, and return the reply's list item."""
        before = self.replies.count()
        self.message_box.fill(text)
        self.message_box.press("Enter")
        expect(self.replies).to_have_count(before + 1)
        return self.replies.last

    @property
    def replies(self) -> Locator:
        return self.page.locator("#transcript li.message.assistant")

    def choose_graph(self, name: str) -> None:
        self.page.locator("#graph").select_option(name)

    def wait_ended(self, reply: Locator) -> str:
        """Wait for ``reply`` to finish (done, stopped, error, or interrupted by a question);
        return how it ended."""
        expect(reply).to_have_attribute("data-status", ENDED)
        return reply.get_attribute("data-status") or ""

    @staticmethod
    def steps(reply: Locator) -> Locator:
        return reply.locator("details.step")

    def open_step(self, step: Locator) -> Locator:
        """Unfold a step's block (a click on its summary) and return it."""
        if step.get_attribute("open") is None:
            step.locator("summary").click()
        expect(step.locator(".step-input")).to_be_visible()
        return step

    def watch_growth(self, reply: Locator, timeout: float = 20.0) -> list[str]:
        """Poll the reply's visible text until it ends; return each distinct state seen."""
        text = reply.locator(".text")
        states: list[str] = []
        deadline = time.monotonic() + timeout
        while reply.get_attribute("data-status") == "streaming":
            current = text.inner_text()
            if not states or states[-1] != current:
                states.append(current)
            assert time.monotonic() < deadline, f"the reply never ended; saw {states!r}"
            self.page.wait_for_timeout(20)
        return states

    def transcript(self) -> list[tuple[str, str]]:
        """Each message as (role, text), oldest first."""
        items = self.page.locator("#transcript li.message")
        return [
            (
                "user" if "user" in (items.nth(i).get_attribute("class") or "") else "assistant",
                items.nth(i).locator(".text").inner_text(),
            )
            for i in range(items.count())
        ]
