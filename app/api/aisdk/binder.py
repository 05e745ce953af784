"""From a ``useChat`` request to a :class:`~app.runs.spec.RunSpec`.

The client posts its whole conversation; the thread's memory is the server's. What is new is
the last message: a user message is the turn's input (one the thread holds already is answered
again, in place), and an assistant message last carries the answers to its approval requests,
one of which answers the thread's pending interrupt. An interrupt no tool raised (shown as a
``data-interrupt`` part) is answered by ``resume`` in the body, the assistant message last.
"""

from __future__ import annotations

import time
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from app.api.aisdk.schemas import UIChatRequest, UIMessage
from app.api.chat.binder import graph_settings
from app.api.deps import Services
from app.api.turns import (
    held_messages,
    pending_interrupt,
    thread_graph,
    unanswered,
    user_turn,
)
from app.errors import ValidationFailed
from app.runs.spec import RunSpec


async def bind(services: Services, body: UIChatRequest, request_id: str, user: str) -> RunSpec:
    received = time.perf_counter()
    saved = await services.threads.load(body.id, user)
    graph = services.binder.graph(
        body.graph_type, body.graph_settings.get("graphType"), thread_graph(services, saved)
    )
    settings = graph_settings(graph, body.graph_settings)
    last = body.messages[-1]
    common: dict[str, Any] = {
        "request_id": request_id,
        "thread_id": body.id,
        "user_id": user,
        "graph": graph,
        "settings": settings,
        "received": received,
        "wire": "aisdk",
    }
    if body.resuming:
        if last.role != "assistant":
            raise ValidationFailed(
                "this request answers an interrupt (resume) and also sends a new user "
                "message: answer the interrupt alone, then send the message",
                details={"field": "resume"},
            )
        await pending_interrupt(services, graph, body.id)
        return RunSpec(
            **common,
            input=Command(resume=body.resume),
            resuming=True,
            wire_context={"message_id": last.id},
        )
    if last.role == "assistant":
        interrupt = await pending_interrupt(services, graph, body.id)
        call_id, answer = _answer(last, interrupt, body.id)
        call = next(
            (
                c
                for m in held_messages(graph, saved)
                for c in getattr(m, "tool_calls", None) or []
                if c.get("id") == call_id
            ),
            None,
        )
        return RunSpec(
            **common,
            input=Command(resume=answer),
            resuming=True,
            wire_context={
                "message_id": last.id,
                "answered": {call_id: answer["approved"]},
                # So that a replay of this run (resume after a reload) can rebuild the part.
                "calls": {call_id: {"toolName": call["name"], "input": call["args"]}}
                if call is not None
                else {},
            },
        )
    if last.role != "user":
        raise ValidationFailed(
            f"the last message is a {last.role!r} message: end messages with the user's new "
            "message, or with the assistant message that answers an approval",
            details={"field": "messages"},
        )
    text = "".join(part.text or "" for part in last.parts if part.type == "text")
    where = f"messages[{len(body.messages) - 1}].parts"
    message = HumanMessage(
        services.binder.text(text, where, "in a part of type 'text'"), id=last.id
    )
    held = held_messages(graph, saved)
    return RunSpec(
        **common,
        input=user_turn(graph, held, [message]),
        input_messages=(message,),
        reply_after=last.id,
    )


def _answer(message: UIMessage, interrupt: Any, thread_id: str) -> tuple[str, dict[str, Any]]:
    """The tool call and the answer the message gives the pending ``interrupt``."""
    for part in message.parts:
        approval = part.approval
        if approval is None or approval.id != interrupt.id or approval.approved is None:
            continue
        if part.toolCallId is None:
            raise ValidationFailed(
                "the part answering the approval has no toolCallId", details={"field": "messages"}
            )
        answer: dict[str, Any] = {"approved": approval.approved}
        if approval.reason:
            answer["reason"] = approval.reason
        return part.toolCallId, answer
    raise unanswered(
        thread_id,
        interrupt,
        "answer it with addToolApprovalResponse({id, approved}) on the part whose "
        f"approval.id is {interrupt.id!r}",
    )
