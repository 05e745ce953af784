"""``/threads/{threadId}``: read a conversation, or delete it; only for the thread's owner."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from app.error_map import raise_mapped
from app.errors import ThreadBusy
from app.schemas import ErrorEnvelope, ThreadIdPath, UserIdQuery
from app.services import ServicesDep
from app.turn_tap import attachments_of as _attachments

router = APIRouter(tags=["threads"])

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorEnvelope, "description": "No such thread for this userId"},
    422: {"model": ErrorEnvelope, "description": "Invalid threadId or userId"},
}


@router.get(
    "/threads/{thread_id}/messages",
    summary="The conversation, oldest first",
    responses=_NOT_FOUND,
)
async def thread_messages(
    thread_id: ThreadIdPath, services: ServicesDep, user_id: UserIdQuery = "anonymous"
) -> dict[str, Any]:
    saved = await services.threads.require(thread_id, user_id)
    version = services.threads.graph_of(saved)
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
    summary="Delete the thread and every checkpoint of it",
    status_code=204,
    responses={**_NOT_FOUND, 409: {"model": ErrorEnvelope, "description": "Thread busy"}},
)
async def delete_thread(
    thread_id: ThreadIdPath, services: ServicesDep, user_id: UserIdQuery = "anonymous"
) -> Response:
    await services.threads.require(thread_id, user_id)
    if services.runs.busy(thread_id):
        raise ThreadBusy(f"thread {thread_id!r} is answering a request; delete it afterwards")
    try:
        await services.checkpointer.saver.adelete_thread(thread_id)
    except Exception as exc:
        raise_mapped(exc)
    return Response(status_code=204)
