"""``/threads/{threadId}``: read a conversation, or delete it; only for the thread's owner."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from langchain_core.messages import BaseMessage

from app.error_map import raise_mapped
from app.errors import ThreadBusy
from app.schemas import ErrorEnvelope, ThreadIdPath, UserIdQuery
from app.services import ServicesDep

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
    conversation = services.threads.graph_of(saved).conversation
    messages: list[BaseMessage] = conversation.messages(saved.checkpoint["channel_values"])
    return {
        "threadId": thread_id,
        "messages": [
            {"role": _ROLES.get(m.type, m.type), "content": m.text, "id": m.id} for m in messages
        ],
    }


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
