"""``/threads/{threadId}``: read a conversation, or delete it; only for the thread's owner."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from app.api.deps import ServicesDep
from app.api.params import ThreadIdPath, UserIdQuery
from app.auth.principal import PrincipalDep, UserHeader, acting_scope, acting_user
from app.errors import ThreadBusy
from app.errors.mapping import raise_mapped
from app.errors.openapi import AUTH_REFUSALS, ErrorEnvelope
from app.runs.tap import attachments_of as _attachments
from app.wire.json import JSONRoute

router = APIRouter(tags=["threads"], route_class=JSONRoute)

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **AUTH_REFUSALS,
    404: {"model": ErrorEnvelope, "description": "No such thread for this userId"},
    422: {"model": ErrorEnvelope, "description": "Invalid threadId or userId"},
}


@router.get(
    "/threads/{thread_id}/messages",
    summary="The conversation, oldest first",
    responses=_NOT_FOUND,
)
async def thread_messages(
    thread_id: ThreadIdPath,
    services: ServicesDep,
    principal: PrincipalDep,
    user_id: UserIdQuery = None,
) -> dict[str, Any]:
    saved = await services.threads.require(thread_id, acting_user(principal, user_id))
    version = services.threads.graph_of(saved.metadata)
    messages: list[BaseMessage] = version.conversation.messages(saved.checkpoint["channel_values"])
    body: dict[str, Any] = {"threadId": thread_id, "messages": [_message(m) for m in messages]}
    pending = await services.runs.runner.pending_interrupts(version, thread_id)
    if pending:
        # What the thread waits for: answer it with "resume" on POST /stream.
        body["pendingInterrupt"] = {"id": pending[0].id, "value": pending[0].value}
    return body


def _message(message: BaseMessage) -> dict[str, Any]:
    """A message as the history shows it: tool calls on the assistant's, results as tool's."""
    out: dict[str, Any] = {
        "role": _ROLES.get(message.type, message.type),
        "content": message.text,
        "id": message.id,
    }
    if isinstance(message, AIMessage) and message.tool_calls:
        out["toolCalls"] = [
            {"id": call["id"], "name": call["name"], "input": call["args"]}
            for call in message.tool_calls
        ]
    if isinstance(message, ToolMessage):
        out.update(toolCallId=message.tool_call_id, name=message.name, status=message.status)
        attachments = _attachments(message.artifact)
        if attachments:
            out["attachments"] = attachments
    return out


@router.delete(
    "/threads/{thread_id}",
    summary="Delete the thread, every checkpoint of it and its records (both APIs)",
    status_code=204,
    responses={**_NOT_FOUND, 409: {"model": ErrorEnvelope, "description": "Thread busy"}},
)
async def delete_thread(
    thread_id: ThreadIdPath,
    services: ServicesDep,
    principal: PrincipalDep,
    user_id: UserIdQuery = None,
    x_user_id: UserHeader = None,
) -> Response:
    # The LangGraph API's DELETE /threads/{id} too: its user may come as X-User-Id, and a
    # service key (or an open server) naming no user may delete any thread.
    named = user_id if user_id is not None else x_user_id
    await services.threads.find(thread_id, acting_scope(principal, named))
    if services.runs.busy(thread_id):
        raise ThreadBusy(f"thread {thread_id!r} is answering a request; delete it afterwards")
    try:
        await services.stores.checkpointer.saver.adelete_thread(thread_id)
    except Exception as exc:
        raise_mapped(exc)
    await services.stores.records.delete(thread_id)
    return Response(status_code=204)
