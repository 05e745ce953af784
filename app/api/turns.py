"""What the front-end protocols' binders share: their clients send a whole conversation every
turn, while the thread's memory is the server's. So a binder reads which messages the thread
holds, takes as input only what it does not, and answers a pending interrupt by its id."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, RemoveMessage
from langgraph.checkpoint.base import CheckpointTuple

from app.api.deps import Services
from app.api.streaming import launch
from app.errors import InterruptPending, NoPendingInterrupt
from app.observability.logs import turn_context
from app.runs.run import Run
from app.runs.spec import RunSpec
from graphs import GraphVersion


def request_id(prefix: str) -> str:
    """A new request id; the prefix names the API, so a replica reading another's run log
    knows which wire format it holds."""
    return f"{prefix}-{uuid.uuid4().hex}"


def held_messages(graph: GraphVersion, saved: CheckpointTuple | None) -> list[BaseMessage]:
    """The conversation the thread holds (none for a new thread)."""
    if saved is None:
        return []
    return graph.conversation.messages(saved.checkpoint.get("channel_values") or {})


def unanswered_calls(held: Sequence[BaseMessage]) -> list[str]:
    """The tool calls of the thread's last model message that have no result yet (the one
    whose tool asked the user, when an interrupt is pending)."""
    answered = {getattr(m, "tool_call_id", None) for m in held if m.type == "tool"}
    for message in reversed(held):
        calls = getattr(message, "tool_calls", None)
        if message.type == "ai" and calls:
            return [c["id"] for c in calls if c.get("id") and c["id"] not in answered]
    return []


def thread_graph(services: Services, saved: CheckpointTuple | None) -> str | None:
    """The thread's own graph, for a request that names none."""
    if saved is None:
        return None
    return services.threads.graph_of(saved.metadata).ref


def user_turn(
    graph: GraphVersion, held: Sequence[BaseMessage], messages: Sequence[HumanMessage]
) -> Any:
    """The graph input for the user's ``messages``. One the thread holds already (a message
    sent again, regenerated or edited) takes the conversation back to it: the messages after it
    are removed and it is answered again, so a retry never leaves two answers."""
    first = messages[0]
    ids = [message.id for message in held]
    if first.id in ids:
        later = held[ids.index(first.id) + 1 :]
        removed: list[BaseMessage] = [RemoveMessage(id=m.id) for m in later if m.id is not None]
        return graph.conversation.update([*removed, *messages])
    return graph.conversation.update(list(messages))


async def pending_interrupt(services: Services, spec_graph: GraphVersion, thread_id: str) -> Any:
    """The interrupt the thread waits an answer for; 409 no_pending_interrupt when none."""
    pending = await services.runs.runner.pending_interrupts(spec_graph, thread_id)
    if not pending:
        raise NoPendingInterrupt(
            f"thread {thread_id!r} has no pending interrupt to answer; send a new user "
            "message instead"
        )
    return pending[0]


def unanswered(thread_id: str, interrupt: Any, how: str) -> InterruptPending:
    return InterruptPending(
        f"thread {thread_id!r} is waiting for an answer to interrupt {interrupt.id!r}; {how}",
        details={"interrupt": {"id": interrupt.id, "value": interrupt.value}},
    )


async def start_turn(services: Services, spec: RunSpec, principal_label: str | None) -> Run:
    """The checks every turn passes before it starts (the thread's owner and graph, the
    pending interrupt), then its start through the lifecycle."""
    context = {"requestId": spec.request_id, "threadId": spec.thread_id, "userId": spec.user_id}
    if principal_label is not None:
        context["principal"] = principal_label
    turn_context.set(context)
    await services.threads.check(spec)
    await services.runs.runner.check_interrupts(spec)
    return await launch(services, spec)
