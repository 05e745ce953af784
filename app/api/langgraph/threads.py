"""Threads: the same threads as the chat API's, with their records, states and history."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot

from app.api.deps import Services, ServicesDep
from app.api.langgraph.schemas import (
    CheckpointConfig,
    HistoryRequest,
    StateAtCheckpoint,
    StateUpdate,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from app.api.langgraph.views import (
    empty_state,
    json_response,
    search_page,
    state_payload,
    thread_payload,
)
from app.api.params import ThreadIdPath
from app.auth.principal import ANONYMOUS, ActorDep
from app.errors import ThreadBusy, ThreadExists, ThreadNotFound, ValidationFailed
from app.errors.mapping import raise_mapped
from app.stores.records import Records, ThreadRecord, ThreadStatus
from app.threads.access import FoundThread
from app.wire.json import JSONRoute
from graphs import GraphVersion, UnknownGraph

router = APIRouter(tags=["langgraph: threads"], route_class=JSONRoute)


def _records(services: Services) -> Records:
    return services.stores.records


def version_of(services: Services, found: FoundThread) -> GraphVersion | None:
    """The graph version of a thread: the one that wrote it, else the one its metadata names
    (a thread made with ``metadata.graph_id`` and not run yet)."""
    if found.metadata is not None:
        return services.threads.graph_of(found.metadata)
    graph_id = (found.record.metadata if found.record else {}).get("graph_id")
    if isinstance(graph_id, str):
        assistant = services.assistants.get(graph_id)
        if assistant is not None:
            return assistant.graph
        try:
            return services.registry.default(graph_id)
        except UnknownGraph:
            return None
    return None


def _config(thread_id: str, checkpoint: CheckpointConfig | dict[str, Any] | None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint is not None:
        values = checkpoint if isinstance(checkpoint, dict) else checkpoint.model_dump()
        configurable.update({k: v for k, v in values.items() if v is not None})
        configurable["thread_id"] = thread_id
    return {"configurable": configurable}


async def snapshot_of(
    services: Services,
    found: FoundThread,
    checkpoint: CheckpointConfig | dict[str, Any] | None = None,
    *,
    subgraphs: bool = False,
) -> StateSnapshot | None:
    if found.saved is None:
        return None
    version = version_of(services, found)
    assert version is not None
    graph = services.runs.runner.graph(version)
    try:
        return await graph.aget_state(_config(found.thread_id, checkpoint), subgraphs=subgraphs)
    except Exception as exc:
        raise_mapped(exc)


async def statuses(services: Services, thread_ids: list[str]) -> set[str]:
    """Which of ``thread_ids`` are busy: with a run here, or claimed by another replica."""
    busy = {t for t in thread_ids if services.runs.busy(t)}
    rest = [t for t in thread_ids if t not in busy]
    busy.update(await services.stores.claims.holders(rest))
    return busy


def status_of(
    record: ThreadRecord | None, snapshot: StateSnapshot | None, busy: bool
) -> ThreadStatus:
    if busy:
        return "busy"
    if record is not None and record.status != "idle":
        return record.status
    if snapshot is not None and snapshot.interrupts:
        return "interrupted"
    return "idle"


async def thread_view(services: Services, found: FoundThread) -> dict[str, Any]:
    snapshot = await snapshot_of(services, found)
    busy = bool(await statuses(services, [found.thread_id]))
    return thread_payload(
        found.thread_id,
        found.record,
        snapshot,
        status_of(found.record, snapshot, busy),
        found.owner,
    )


@router.post("/threads", summary="Create a thread")
async def create(body: ThreadCreate, services: ServicesDep, actor: ActorDep) -> Response:
    body.refuse_unimplemented("ttl", "supersteps")
    thread_id = body.thread_id or str(uuid.uuid4())
    metadata = dict(body.metadata or {})
    if body.graph_id is not None:
        metadata.setdefault("graph_id", body.graph_id)
    if body.thread_id is not None:
        try:
            found = await services.threads.find(thread_id, None)
        except ThreadNotFound:
            found = None
        if found is not None:
            if body.if_exists == "do_nothing" and (actor is None or found.owner == actor):
                return json_response(await thread_view(services, found))
            # Someone else's thread is refused the same way: the id is taken.
            raise ThreadExists(f"thread {thread_id!r} exists already")
    now = time.time()
    record = ThreadRecord(thread_id, actor or ANONYMOUS, now, now, metadata)
    await _records(services).put(record)
    # New: no state, no run.
    return json_response(thread_payload(thread_id, record, None, "idle", record.user_id))


async def _search(
    services: Services, actor: str | None, body: ThreadSearch | ThreadCount
) -> list[dict[str, Any]]:
    records = await _records(services).of_user(actor)
    if isinstance(body, ThreadSearch) and body.ids is not None:
        wanted = set(body.ids)
        records = [r for r in records if r.thread_id in wanted]
    if body.metadata:
        records = [
            r for r in records if all(r.metadata.get(k) == v for k, v in body.metadata.items())
        ]
    busy = await statuses(services, [r.thread_id for r in records])
    views = []
    for record in records:
        saved = await services.threads.latest(record.thread_id)
        found = FoundThread(record.thread_id, record.user_id, record, saved)
        snapshot = await snapshot_of(services, found)
        status = status_of(record, snapshot, record.thread_id in busy)
        if body.status is not None and status != body.status:
            continue
        view = thread_payload(record.thread_id, record, snapshot, status, record.user_id)
        if body.values and not all(view["values"].get(k) == v for k, v in body.values.items()):
            continue
        views.append(view)
    return views


@router.post("/threads/search", summary="Threads by metadata, status and values")
async def search(body: ThreadSearch, services: ServicesDep, actor: ActorDep) -> Response:
    body.refuse_unimplemented("extract")
    return search_page(
        await _search(services, actor, body),
        sort_by=body.sort_by or "updated_at",
        descending=(body.sort_order or "desc") == "desc",
        offset=body.offset,
        limit=body.limit,
        select=body.select,
    )


@router.post("/threads/count", summary="How many threads match")
async def count(body: ThreadCount, services: ServicesDep, actor: ActorDep) -> int:
    return len(await _search(services, actor, body))


@router.get("/threads/{thread_id}", summary="A thread: its metadata, status and values")
async def get(thread_id: ThreadIdPath, services: ServicesDep, actor: ActorDep) -> Response:
    found = await services.threads.find(thread_id, actor)
    return json_response(await thread_view(services, found))


@router.patch("/threads/{thread_id}", summary="Merge into a thread's metadata")
async def patch(
    thread_id: ThreadIdPath, body: ThreadPatch, services: ServicesDep, actor: ActorDep
) -> Response:
    body.refuse_unimplemented("ttl")
    found = await services.threads.find(thread_id, actor)
    now = time.time()
    record = found.record or ThreadRecord(thread_id, found.owner, now, now)
    record.metadata.update(body.metadata or {})
    record.updated_at = now
    await _records(services).put(record)
    found.record = record
    return json_response(await thread_view(services, found))


@router.get("/threads/{thread_id}/state", summary="A thread's latest state")
async def state(
    thread_id: ThreadIdPath,
    services: ServicesDep,
    actor: ActorDep,
    subgraphs: Annotated[bool, Query()] = False,
) -> Response:
    found = await services.threads.find(thread_id, actor)
    snapshot = await snapshot_of(services, found, subgraphs=subgraphs)
    return json_response(empty_state(thread_id) if snapshot is None else state_payload(snapshot))


@router.get(
    "/threads/{thread_id}/state/{checkpoint_id}", summary="A thread's state at a checkpoint"
)
async def state_at(
    thread_id: ThreadIdPath,
    checkpoint_id: str,
    services: ServicesDep,
    actor: ActorDep,
    subgraphs: Annotated[bool, Query()] = False,
) -> Response:
    return await _state_at(services, actor, thread_id, {"checkpoint_id": checkpoint_id}, subgraphs)


@router.post("/threads/{thread_id}/state/checkpoint", summary="A thread's state at a checkpoint")
async def state_at_checkpoint(
    thread_id: ThreadIdPath, body: StateAtCheckpoint, services: ServicesDep, actor: ActorDep
) -> Response:
    checkpoint = body.checkpoint.model_dump(exclude_none=True)
    return await _state_at(services, actor, thread_id, checkpoint, body.subgraphs)


async def _state_at(
    services: Services,
    actor: str | None,
    thread_id: str,
    checkpoint: dict[str, Any],
    subgraphs: bool,
) -> Response:
    found = await services.threads.find(thread_id, actor)
    snapshot = await snapshot_of(services, found, checkpoint, subgraphs=subgraphs)
    if snapshot is None or not snapshot.config:
        raise ThreadNotFound(f"thread {thread_id!r} has no checkpoint {checkpoint!r}")
    return json_response(state_payload(snapshot))


@router.post("/threads/{thread_id}/state", summary="Update a thread's state, as a node would")
async def update_state(
    thread_id: ThreadIdPath, body: StateUpdate, services: ServicesDep, actor: ActorDep
) -> Response:
    found = await services.threads.find(thread_id, actor)
    version = version_of(services, found)
    if version is None:
        raise ValidationFailed(
            f"thread {thread_id!r} has no graph yet: run it first, or create it with "
            "metadata.graph_id"
        )
    if await statuses(services, [thread_id]):
        raise ThreadBusy(f"thread {thread_id!r} is running; update its state when it ends")
    graph = services.runs.runner.graph(version)
    checkpoint = body.checkpoint.model_dump(exclude_none=True) if body.checkpoint else {}
    if body.checkpoint_id is not None:
        checkpoint["checkpoint_id"] = body.checkpoint_id
    config = _config(thread_id, checkpoint)
    # The update is a checkpoint like a run's: it carries the thread's owner and graph.
    config["metadata"] = {
        "graph_name": version.name,
        "graph_version": str(version.version),
        "user_id": found.owner,
        "request_id": f"update-{uuid.uuid4().hex}",
    }
    try:
        written = await graph.aupdate_state(config, body.values, as_node=body.as_node)
    except Exception as exc:
        if isinstance(exc, (ValueError, KeyError)) or type(exc).__name__ == "InvalidUpdateError":
            raise ValidationFailed(f"the state update was refused: {exc}") from None
        raise_mapped(exc)
    checkpoint = written["configurable"]
    return json_response(
        {
            "checkpoint": checkpoint,
            "configurable": checkpoint,
            "checkpoint_id": checkpoint.get("checkpoint_id"),
        }
    )


@router.post("/threads/{thread_id}/history", summary="A thread's checkpoints, newest first")
async def history(
    thread_id: ThreadIdPath, body: HistoryRequest, services: ServicesDep, actor: ActorDep
) -> Response:
    return await _history(services, actor, thread_id, body)


@router.get("/threads/{thread_id}/history", include_in_schema=False)
async def history_get(
    thread_id: ThreadIdPath,
    services: ServicesDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    before: Annotated[str | None, Query()] = None,
) -> Response:
    return await _history(services, actor, thread_id, HistoryRequest(limit=limit, before=before))


async def _history(
    services: Services, actor: str | None, thread_id: str, body: HistoryRequest
) -> Response:
    found = await services.threads.find(thread_id, actor)
    if found.saved is None:
        return json_response([])
    version = version_of(services, found)
    assert version is not None
    graph = services.runs.runner.graph(version)
    before = body.before
    before_config = None
    if isinstance(before, str):
        before_config = _config(thread_id, {"checkpoint_id": before})
    elif before is not None:
        before_config = _config(thread_id, before)
    states = []
    try:
        async for snapshot in graph.aget_state_history(
            _config(thread_id, body.checkpoint),
            filter=body.metadata or None,
            before=before_config,
            limit=body.limit,
        ):
            states.append(state_payload(snapshot))
    except Exception as exc:
        raise_mapped(exc)
    return json_response(states)
