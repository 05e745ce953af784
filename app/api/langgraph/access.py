"""Who a LangGraph API request acts for, and the threads it may see.

The principals are the seed API's. A user's credential acts for its user. A service key, or a
server with no credentials configured, acts for the user named by the ``X-User-Id`` header, or,
naming none, for every user: it sees every thread (as an operator's Studio does), and a run it
starts on a thread acts for the thread's owner. Another user's thread is a 404, as in the seed
API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header
from langgraph.checkpoint.base import CheckpointTuple

from app.auth.credentials import Unauthenticated
from app.auth.principal import PrincipalDep
from app.deps import Services
from app.errors import ThreadNotFound
from app.errors.mapping import raise_mapped
from app.stores.records import ThreadRecord

ANONYMOUS = "anonymous"


async def acting_for(
    principal: PrincipalDep,
    x_user_id: Annotated[
        str | None, Header(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$", max_length=128)
    ] = None,
) -> str | None:
    """The user the request acts for; ``None``: every user (a service key or an open server
    naming none)."""
    if principal is None:
        raise Unauthenticated("Send a valid credential as 'Authorization: Bearer <key or token>'.")
    if principal.kind == "user":
        return principal.user_for(x_user_id)
    return x_user_id or None


ActorDep = Annotated[str | None, Depends(acting_for)]


@dataclass
class FoundThread:
    thread_id: str
    owner: str
    record: ThreadRecord | None
    saved: CheckpointTuple | None  # its latest checkpoint, if it has one


async def find_thread(
    services: Services, thread_id: str, actor: str | None, *, record: bool = True
) -> FoundThread:
    """The thread, if ``actor`` may see it; else a 404 (whether it exists or not). Its
    record is read when it has no checkpoint (the record names its owner) or ``record``."""
    saved = await latest_checkpoint(services, thread_id)
    found = None
    if saved is None or record:
        found = await services.records.get(thread_id)
    return _visible(thread_id, actor, saved, found)


async def latest_checkpoint(services: Services, thread_id: str) -> CheckpointTuple | None:
    try:
        return await services.checkpointer.saver.aget_tuple(
            {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        )
    except Exception as exc:
        raise_mapped(exc)


def _visible(
    thread_id: str,
    actor: str | None,
    saved: CheckpointTuple | None,
    record: ThreadRecord | None,
) -> FoundThread:
    if saved is None and record is None:
        raise ThreadNotFound(f"thread {thread_id!r} was not found")
    owner = record.user_id if record is not None else None
    if saved is not None:
        owner = str(saved.metadata.get("user_id") or owner or ANONYMOUS)
    assert owner is not None
    if actor is not None and owner != actor:
        raise ThreadNotFound(f"thread {thread_id!r} was not found")
    return FoundThread(thread_id, owner, record, saved)
