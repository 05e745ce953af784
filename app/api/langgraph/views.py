"""The LangGraph API's response shapes (``Thread``, ``ThreadState``, ``Run``), built from
checkpoints, records and runs. JSON is written with the LangGraph encoder's serialiser, so
messages read as LangGraph's own server writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import Response
from langchain_core.runnables import RunnableConfig
from langgraph.types import StateSnapshot

from app.runs.run import Run
from app.stores.records import RunRecord, ThreadRecord, ThreadStatus
from app.threads.records import outcome, run_record
from app.wire.json import JSONResponse


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


def json_response(
    payload: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(payload, status_code, headers)


def search_page(
    found: list[dict[str, Any]],
    *,
    sort_by: str,
    descending: bool,
    offset: int,
    limit: int,
    select: list[str] | None,
) -> Response:
    """One page of search results, sorted, with only the ``select``-ed fields, and the
    total in ``X-Pagination-Total`` (as langgraph-api answers a search)."""
    found.sort(key=lambda item: str(item.get(sort_by) or ""), reverse=descending)
    page = found[offset : offset + limit]
    if select:
        page = [{k: item[k] for k in select if k in item} for item in page]
    return json_response(page, headers={"X-Pagination-Total": str(len(found))})


def checkpoint_of(config: RunnableConfig | None) -> dict[str, Any] | None:
    if not config:
        return None
    configurable = config.get("configurable") or {}
    return {
        "thread_id": configurable.get("thread_id"),
        "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        "checkpoint_id": configurable.get("checkpoint_id"),
        "checkpoint_map": configurable.get("checkpoint_map"),
    }


def state_payload(snapshot: StateSnapshot) -> dict[str, Any]:
    """A ``ThreadState``."""
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": [
            {
                "id": task.id,
                "name": task.name,
                "path": list(task.path),
                "error": None if task.error is None else repr(task.error),
                "interrupts": list(task.interrupts),
                "checkpoint": checkpoint_of(task.state) if isinstance(task.state, dict) else None,
                "state": state_payload(task.state)
                if isinstance(task.state, StateSnapshot)
                else None,
                "result": task.result,
            }
            for task in snapshot.tasks
        ],
        "checkpoint": checkpoint_of(snapshot.config),
        "metadata": snapshot.metadata or {},
        "created_at": snapshot.created_at,
        "parent_checkpoint": checkpoint_of(snapshot.parent_config),
        "interrupts": list(snapshot.interrupts),
    }


def empty_state(thread_id: str) -> dict[str, Any]:
    """The state of a thread that has no checkpoint yet."""
    return {
        "values": {},
        "next": [],
        "tasks": [],
        "checkpoint": {"thread_id": thread_id, "checkpoint_ns": "", "checkpoint_id": None},
        "metadata": {},
        "created_at": None,
        "parent_checkpoint": None,
        "interrupts": [],
    }


def thread_payload(
    thread_id: str,
    record: ThreadRecord | None,
    snapshot: StateSnapshot | None,
    status: ThreadStatus,
    owner: str,
) -> dict[str, Any]:
    """A ``Thread``. A thread that only the chat API has used has no record: its times and
    metadata come from its checkpoints."""
    created = updated = snapshot.created_at if snapshot is not None else None
    metadata: dict[str, Any] = {}
    if record is not None:
        created, updated = iso(record.created_at), iso(record.updated_at)
        metadata = dict(record.metadata)
    elif snapshot is not None and snapshot.metadata:
        metadata = {"graph_id": snapshot.metadata.get("graph_name")}
    interrupts: dict[str, list[Any]] = {}
    if snapshot is not None:
        for task in snapshot.tasks:
            if task.interrupts:
                interrupts[task.id] = list(task.interrupts)
    return {
        "thread_id": thread_id,
        "created_at": created,
        "updated_at": updated,
        "state_updated_at": snapshot.created_at if snapshot is not None else updated,
        "metadata": {**metadata, "owner": owner},
        "config": {},
        "status": status,
        "values": snapshot.values if snapshot is not None else {},
        "interrupts": interrupts,
    }


def run_payload(record: RunRecord) -> dict[str, Any]:
    """A ``Run``."""
    return {
        "run_id": record.run_id,
        "thread_id": record.thread_id,
        "assistant_id": record.assistant_id,
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "status": record.status,
        "metadata": record.metadata,
        "kwargs": record.kwargs,
        "multitask_strategy": record.multitask_strategy,
    }


def live_run_payload(run: Run) -> dict[str, Any]:
    """A ``Run`` still in this process: running, or ended and not yet recorded."""
    status = outcome(run)[0] if run.done else "running"
    return run_payload(run_record(run, status))
