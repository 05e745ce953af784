"""From an AG-UI ``RunAgentInput`` to a :class:`~app.runs.spec.RunSpec`.

The client sends its whole history every run. The user messages the thread does not hold (by
id) are the turn's input; the client's copies of the assistant's and the tools' messages are
the server's own, already in the thread, and are not added again. ``resume`` answers the
thread's pending interrupt: ``resolved`` continues the graph with the entry's payload,
``cancelled`` declines (the graph gets ``{"approved": false, "cancelled": true}``, with the
payload's fields when it is an object).

The client's ``tools`` (front-end tools) and ``context`` are not given to the graph: the graph
version declares its own tools. ``forwardedProps.graphSettings`` are the version's settings.
"""

from __future__ import annotations

import re
import time
from typing import Any

from ag_ui.core import RunAgentInput, UserMessage
from langchain_core.messages import HumanMessage
from langgraph.types import Command

from app.api.chat.binder import graph_settings
from app.api.deps import Services
from app.api.turns import (
    held_messages,
    pending_interrupt,
    thread_graph,
    unanswered,
    unanswered_calls,
    user_turn,
)
from app.errors import ValidationFailed
from app.runs.spec import RunSpec


async def bind(
    services: Services, body: RunAgentInput, graph_type: str | None, user: str
) -> RunSpec:
    received = time.perf_counter()
    thread_id = _id(body.thread_id, "threadId")
    _id(body.run_id, "runId")
    saved = await services.threads.load(thread_id, user)
    forwarded = body.forwarded_props if isinstance(body.forwarded_props, dict) else {}
    raw_settings = forwarded.get("graphSettings") or {}
    if not isinstance(raw_settings, dict):
        raise ValidationFailed(
            "forwardedProps.graphSettings must be an object of the graph's settings",
            details={"field": "forwardedProps.graphSettings"},
        )
    graph = services.binder.graph(
        graph_type, raw_settings.get("graphType"), thread_graph(services, saved)
    )
    held = held_messages(graph, saved)
    known = {message.id for message in held}
    new = [m for m in body.messages if isinstance(m, UserMessage) and m.id not in known]
    common: dict[str, Any] = {
        "request_id": body.run_id,
        "thread_id": thread_id,
        "user_id": user,
        "graph": graph,
        "settings": graph_settings(graph, raw_settings),
        "received": received,
        "wire": "agui",
        "wire_context": {"run_id": body.run_id},
    }
    if body.resume:
        if new:
            raise ValidationFailed(
                "this run answers an interrupt (resume) and also sends a new user message: "
                "answer the interrupt alone, then send the message in the next run",
                details={"field": "messages"},
            )
        interrupt = await pending_interrupt(services, graph, thread_id)
        entry = next((e for e in body.resume if e.interrupt_id == interrupt.id), None)
        if entry is None:
            raise unanswered(
                thread_id, interrupt, f"send resume: [{{interruptId: {interrupt.id!r}, ...}}]"
            )
        answer: Any = entry.payload
        if entry.status == "cancelled":
            extra = entry.payload if isinstance(entry.payload, dict) else {}
            answer = {**extra, "approved": False, "cancelled": True}
        # The call whose tool asked: the client holds it, so its start is not sent again.
        waiting = unanswered_calls(held)
        if len(waiting) == 1:
            common["wire_context"] = {"run_id": body.run_id, "answered": {waiting[0]: True}}
        return RunSpec(**common, input=Command(resume=answer), resuming=True)
    if not new:
        raise ValidationFailed(
            "messages holds no user message the thread does not have already: add the user's "
            "new message (with a new id), or answer a pending interrupt with resume",
            details={"field": "messages"},
        )
    messages = [
        HumanMessage(
            services.binder.text(_text(m), f"messages[{m.id!r}].content", "as text"), id=m.id
        )
        for m in new
    ]
    return RunSpec(
        **common,
        input=user_turn(graph, held, messages),
        input_messages=tuple(messages),
        reply_after=messages[-1].id,
    )


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


def _id(value: str, field: str) -> str:
    """Ids end up in Redis keys, logs and URLs: the alphabet every API's ids keep to."""
    if not _ID.match(value):
        raise ValidationFailed(
            f"{field} {value[:60]!r} is not a valid id: 1 to 128 letters, digits and ._:@- "
            "(a UUID will do)",
            details={"field": field},
        )
    return value


def _text(message: UserMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "text", "") or "" for part in content)
