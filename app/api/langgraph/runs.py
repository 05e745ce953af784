"""Runs: stream, wait, background, join, rejoin, cancel and list, on a thread or stateless.

A LangGraph API run is the chat API's run: this module's binder (``_prepare``) makes the same
:class:`~app.runs.spec.RunSpec` from LangGraph's body (its input or command, stream modes,
durability, checkpoint and config as data), started through the same lifecycle (one run per
thread, claimed through the same claims, within the same per-user limits), logged the same way,
and shown through the LangGraph encoder instead of the chat API's.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any, Literal

import anyio
import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from langchain_core.messages import BaseMessage, convert_to_messages
from langgraph.types import Command, Send

from app.api.chat.binder import graph_settings
from app.api.deps import Services, ServicesDep
from app.api.langgraph.assistants import assistant
from app.api.langgraph.schemas import RunCreate
from app.api.langgraph.threads import snapshot_of, version_of
from app.api.langgraph.views import json_response, live_run_payload, run_payload
from app.api.params import ThreadIdPath
from app.api.streaming import admit, event_stream, launch, log_position, run_frames
from app.auth.principal import ANONYMOUS, ActorDep
from app.errors import (
    AppError,
    NoPendingInterrupt,
    RunNotFound,
    ThreadGraphMismatch,
    ThreadNotFound,
    ValidationFailed,
)
from app.observability.logs import turn_context
from app.runs.events import GraphChunk
from app.runs.run import Run
from app.runs.spec import GRAPH_MODES, STREAM_MODES, RunSpec
from app.stores.records import ThreadRecord
from app.threads.access import FoundThread
from app.wire.json import JSONRoute, dumps
from app.wire.langgraph import LangGraphEncoder, LogReader
from app.wire.sse import frame

log = logging.getLogger("app.langgraph")
router = APIRouter(tags=["langgraph: runs"], route_class=JSONRoute)

# Fields of langgraph-api's run bodies that this server does not implement: refused by name.
UNIMPLEMENTED = ("webhook", "feedback_keys", "after_seconds", "langsmith_tracer")


def _command(body: RunCreate) -> Command[Any] | None:
    command = body.command
    if command is None:
        return None
    goto: Any = command.goto
    if isinstance(goto, list):
        goto = [Send(g.node, g.input) if not isinstance(g, str) else g for g in goto]
    elif goto is not None and not isinstance(goto, str):
        goto = Send(goto.node, goto.input)
    return Command(resume=command.resume, update=command.update, goto=goto or ())


def _with_ids(graph_input: Any, key: str, run_id: str) -> tuple[Any, list[BaseMessage]]:
    """The input with its messages as messages with ids (what a cancel saves, replaced rather
    than repeated if the run had saved them already)."""
    if not isinstance(graph_input, dict) or key not in graph_input:
        return graph_input, []
    raw = graph_input[key]
    try:
        messages = convert_to_messages(raw if isinstance(raw, list) else [raw])
    except (ValueError, NotImplementedError) as exc:
        raise ValidationFailed(
            f"input.{key} holds something that is not a message: {exc}"
        ) from None
    for index, message in enumerate(messages):
        if message.id is None:
            message.id = f"{run_id}:input:{index}"
    return {**graph_input, key: messages}, messages


async def _prepare(
    request: Request,
    body: RunCreate,
    services: Services,
    actor: str | None,
    thread_id: str | None,
) -> RunSpec:
    body.refuse_unimplemented(*UNIMPLEMENTED)
    unknown = [m for m in body.modes if m not in STREAM_MODES]
    if unknown:
        raise ValidationFailed(
            f"stream_mode {unknown[0]!r} is not implemented by this server; it streams "
            f"{', '.join(sorted(STREAM_MODES))}",
            details={"field": "stream_mode"},
        )
    if body.input is not None and body.command is not None:
        raise ValidationFailed("send 'input' or 'command', not both")
    chosen = assistant(services, body.assistant_id)
    version = chosen.graph
    run_id = str(uuid.uuid4())
    request.state.request_id = run_id
    stateless = thread_id is None
    found: FoundThread | None = None
    if thread_id is None:
        thread_id = str(uuid.uuid4())
    else:
        try:
            found = await services.threads.find(thread_id, actor, record=False, values=False)
        except ThreadNotFound:
            if body.if_not_exists != "create":
                raise ThreadNotFound(
                    f"thread {thread_id!r} was not found (create it first, or send "
                    "if_not_exists: 'create')"
                ) from None
            now = time.time()
            await services.stores.records.put(ThreadRecord(thread_id, actor or ANONYMOUS, now, now))
    user = found.owner if found is not None else (actor or ANONYMOUS)
    turn_context.set({"requestId": run_id, "threadId": thread_id, "userId": user})
    await admit(services, user)
    if found is not None:
        bound = version_of(services, found)
        if bound is not None and bound.name != version.name:
            raise ThreadGraphMismatch(
                f"thread {thread_id!r} belongs to graph {bound.name!r}; it cannot run "
                f"{version.name!r}"
            )
    durability = body.durability
    if durability is None:
        durability = "exit" if body.checkpoint_during is False else "async"
    checkpoint = body.checkpoint.model_dump(exclude_none=True) if body.checkpoint else {}
    if body.checkpoint_id is not None:
        checkpoint["checkpoint_id"] = body.checkpoint_id
    checkpoint.pop("thread_id", None)
    command = _command(body)
    graph_input, input_messages = _with_ids(body.input, version.conversation.key, run_id)
    configurable = dict((body.config or {}).get("configurable") or {})
    for reserved in ("thread_id", "checkpoint_id", "checkpoint_ns"):
        configurable.pop(reserved, None)
    spec = RunSpec(
        request_id=run_id,
        thread_id=thread_id,
        user_id=user,
        graph=version,
        settings=graph_settings(version, body.context or {}),
        input=command if command is not None else graph_input,
        input_messages=input_messages,
        received=time.perf_counter(),
        resuming=command is not None and command.resume is not None,
        # values and updates always: the run's output and interrupts are read from them.
        graph_modes=GRAPH_MODES.intersection(body.modes) | {"values", "updates"},
        subgraphs=body.stream_subgraphs,
        interrupt_before=body.interrupt_before,
        interrupt_after=body.interrupt_after,
        durability=durability,
        checkpoint=checkpoint or None,
        configurable=configurable,
        metadata=body.metadata or {},
        wire="langgraph",
        stream_modes=body.modes,
        assistant_id=chosen.assistant_id,
        multitask_strategy=body.multitask_strategy,
        # A stateless run's thread goes once it has ended, unless it asks to keep it.
        ephemeral=stateless and body.on_completion == "delete",
        on_disconnect=body.on_disconnect,
    )
    if (
        body.strict_resume
        and spec.resuming
        and not await services.runs.runner.pending_interrupts(version, thread_id)
    ):
        raise NoPendingInterrupt(f"thread {thread_id!r} has no pending interrupt to resume")
    return spec


async def _start(
    request: Request,
    body: RunCreate,
    services: Services,
    actor: str | None,
    thread_id: str | None,
) -> Run:
    spec = await _prepare(request, body, services, actor, thread_id)
    run = await launch(services, spec, multitask=body.multitask_strategy)
    return run


def _stateless(body: RunCreate) -> RunCreate:
    """A stateless run's body: the fields that only a thread's runs have are refused."""
    for name, given in (
        ("if_not_exists", body.if_not_exists != "reject"),
        ("checkpoint", body.checkpoint is not None),
        ("checkpoint_id", body.checkpoint_id is not None),
    ):
        if given:
            raise ValidationFailed(
                f"'{name}' is for a thread's runs; a stateless run has no thread to name",
                details={"field": name},
            )
    return body


def _locations(thread_id: str, run_id: str, stateless: bool) -> dict[str, str]:
    base = f"/runs/{run_id}" if stateless else f"/threads/{thread_id}/runs/{run_id}"
    return {"Location": f"{base}/stream", "Content-Location": base}


def _stream(services: Services, run: Run, modes: tuple[str, ...], after: int = 0) -> Response:
    encoder = LangGraphEncoder(run.spec.request_id, modes, subgraphs=run.spec.subgraphs)
    if after:
        encoder.prime(run.events[: max(0, after - run.base)])
    shutdown = anyio.Event()
    frames = run_frames(services, run, encoder, after=after, shutdown=shutdown, head=encoder.head())
    headers = _locations(run.spec.thread_id, run.spec.request_id, run.spec.ephemeral)
    return event_stream(services, frames, shutdown, headers, large_frames=True)


def output_of(run: Run) -> Any:
    """What ``/runs/wait`` and ``join`` answer: the state the run ended with (with its
    interrupts under ``__interrupt__``), or the error it ended with."""
    if run.error is not None:
        raise run.error
    values: Any = {}
    interrupts: list[Any] = []
    for event in run.events:
        if isinstance(event, GraphChunk) and not event.namespace:
            if event.mode == "values":
                values = event.data
            elif event.mode == "updates" and isinstance(event.data, dict):
                interrupts.extend(event.data.get("__interrupt__") or ())
    if interrupts and isinstance(values, dict):
        return {**values, "__interrupt__": interrupts}
    return values


async def _wait(services: Services, run: Run) -> Response:
    """Follow the run to its end as a client (so ``on_disconnect`` applies), then answer once
    its thread is free."""
    async with aclosing(run.follow(0)) as batches:
        try:
            async for _first, _batch in batches:
                pass
        except AppError:
            pass
    await services.runs.settled(run)
    return json_response(
        output_of(run), headers=_locations(run.spec.thread_id, run.spec.request_id, False)
    )


@router.post("/threads/{thread_id}/runs/stream", summary="Start a run and stream it")
async def stream_run(
    request: Request,
    thread_id: ThreadIdPath,
    body: RunCreate,
    services: ServicesDep,
    actor: ActorDep,
) -> Response:
    run = await _start(request, body, services, actor, thread_id)
    return _stream(services, run, body.modes)


@router.post("/runs/stream", summary="A stateless run, streamed (its thread goes afterwards)")
async def stream_stateless(
    request: Request, body: RunCreate, services: ServicesDep, actor: ActorDep
) -> Response:
    run = await _start(request, _stateless(body), services, actor, None)
    return _stream(services, run, body.modes)


@router.post("/threads/{thread_id}/runs/wait", summary="Start a run and wait for its output")
async def wait_run(
    request: Request,
    thread_id: ThreadIdPath,
    body: RunCreate,
    services: ServicesDep,
    actor: ActorDep,
) -> Response:
    run = await _start(request, body, services, actor, thread_id)
    return await _wait(services, run)


@router.post("/runs/wait", summary="A stateless run: wait for its output")
async def wait_stateless(
    request: Request, body: RunCreate, services: ServicesDep, actor: ActorDep
) -> Response:
    run = await _start(request, _stateless(body), services, actor, None)
    return await _wait(services, run)


@router.post("/threads/{thread_id}/runs", summary="Start a run in the background")
async def create_run(
    request: Request,
    thread_id: ThreadIdPath,
    body: RunCreate,
    services: ServicesDep,
    actor: ActorDep,
) -> Response:
    run = await _start(request, body, services, actor, thread_id)
    # No client reads it: it runs to its end unless cancelled (as langgraph-api's do).
    return json_response(
        live_run_payload(run), headers=_locations(thread_id, run.spec.request_id, False)
    )


async def _find_run(
    services: Services, actor: str | None, thread_id: str, run_id: str
) -> Run | None:
    """The run if it is (or was recently) in this process, after the ownership checks; None
    if it is known only from its record or another replica's log. 404 if not at all."""
    await services.threads.find(thread_id, actor)
    run = services.runs.find(run_id)
    if run is not None:
        # A rolled-back run is gone, as if it had never run (as in langgraph-api).
        if run.spec.thread_id != thread_id or run.rolled_back:
            raise RunNotFound(f"no run {run_id!r} on thread {thread_id!r}")
        return run
    record = await services.stores.records.get_run(run_id)
    if record is not None and record.thread_id == thread_id:
        return None
    owner = await services.stores.run_log.owner(run_id)
    if owner is not None and owner.thread_id == thread_id:
        return None
    raise RunNotFound(f"no run {run_id!r} on thread {thread_id!r}")


@router.get("/threads/{thread_id}/runs/{run_id}", summary="A run")
async def get_run(
    thread_id: ThreadIdPath, run_id: str, services: ServicesDep, actor: ActorDep
) -> Response:
    run = await _find_run(services, actor, thread_id, run_id)
    if run is not None:
        return json_response(live_run_payload(run))
    record = await services.stores.records.get_run(run_id)
    if record is None:  # running on another replica: its log says so, its record comes later
        return json_response(
            {
                "run_id": run_id,
                "thread_id": thread_id,
                "assistant_id": None,
                "status": "running",
                "metadata": {},
                "kwargs": {},
                "multitask_strategy": "reject",
                "created_at": None,
                "updated_at": None,
            }
        )
    return json_response(run_payload(record))


@router.get("/threads/{thread_id}/runs", summary="A thread's runs, newest first")
async def list_runs(
    thread_id: ThreadIdPath,
    services: ServicesDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: Annotated[str | None, Query()] = None,
) -> Response:
    await services.threads.find(thread_id, actor)
    runs: dict[str, dict[str, Any]] = {}
    current = services.runs.on_thread(thread_id)
    if current is not None:
        runs[current.spec.request_id] = live_run_payload(current)
    for record in await services.stores.records.runs_of(thread_id):
        runs.setdefault(record.run_id, run_payload(record))
    found = [r for r in runs.values() if status is None or r["status"] == status]
    return json_response(found[offset : offset + limit])


@router.get("/threads/{thread_id}/runs/{run_id}/join", summary="Wait for a run's output")
async def join_run(
    thread_id: ThreadIdPath, run_id: str, services: ServicesDep, actor: ActorDep
) -> Response:
    run = await _find_run(services, actor, thread_id, run_id)
    if run is not None:
        await asyncio.shield(services.runs.settled(run, limit=3600.0))
        return json_response(output_of(run))
    # Another replica's, or long finished: wait for its claim to go (and, if its replica died,
    # for the run to be taken over and end), then read the thread.
    stores = services.stores
    while await stores.claims.running_elsewhere(run_id) or await stores.inflight.pending(run_id):
        await asyncio.sleep(0.1)
        run = services.runs.find(run_id)
        if run is not None:  # taken over here
            await asyncio.shield(services.runs.settled(run, limit=3600.0))
            return json_response(output_of(run))
    found = await services.threads.find(thread_id, actor)
    snapshot = await snapshot_of(services, found)
    return json_response(snapshot.values if snapshot is not None else {})


@router.get("/threads/{thread_id}/runs/{run_id}/stream", summary="Rejoin a run's stream")
async def join_stream(
    thread_id: ThreadIdPath,
    run_id: str,
    services: ServicesDep,
    actor: ActorDep,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    # Our frame ids are positions; -1 (as LangGraph's clients send to replay all) is 0.
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", pattern=r"^\s*-?[0-9]*\s*$", max_length=20)
    ] = None,
) -> Response:
    run = await _find_run(services, actor, thread_id, run_id)
    after = log_position(last_event_id, negative_is_start=True)
    # A run taken over here: what came before it is in the log, which goes on with its frames.
    if run is not None and after >= run.base:
        own = run.spec.stream_modes or ("values",)
        return _stream(services, run, _modes(stream_mode) or own, after)
    shutdown = anyio.Event()
    headers = _locations(thread_id, run_id, False)
    frames = _log_frames(services, run_id, after)
    return event_stream(services, frames, shutdown, headers, large_frames=True)


async def _log_frames(services: Services, run_id: str, after: int) -> AsyncIterator[bytes]:
    """A run of another replica, from its log."""
    yield frame(None, b"metadata", dumps({"run_id": run_id, "attempt": 1}))
    run_log = services.stores.run_log
    last = after
    try:
        # Joining part-way: the message the next tokens belong to started before ``after``.
        reader = LogReader(await run_log.last_named(run_id, b"m", after + 1) if after else None)
        async with aclosing(run_log.frames(run_id, after)) as batches:
            async for batch in batches:
                last = batch[-1][0]
                yield b"".join(reader.frame(*entry) for entry in batch)
    except AppError as exc:
        yield frame(last + 1, b"error", dumps({"error": exc.code, "message": exc.message}))


def _modes(values: list[str] | None) -> tuple[str, ...]:
    """``stream_mode`` query values: repeated, comma-separated or a JSON array; empty (as the
    SDK sends it when none is given) means the run's own."""
    modes: list[str] = []
    for raw in values or ():
        value = raw.strip()
        if value.startswith("["):
            try:
                modes.extend(str(v) for v in orjson.loads(value))
            except orjson.JSONDecodeError:
                raise ValidationFailed(f"stream_mode {value!r} is not a JSON array") from None
        else:
            modes.extend(v.strip() for v in value.split(",") if v.strip())
    unknown = [m for m in modes if m not in STREAM_MODES]
    if unknown:
        raise ValidationFailed(f"stream_mode {unknown[0]!r} is not one this server streams")
    return tuple(dict.fromkeys(modes))


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", summary="Cancel a run")
async def cancel_run(
    thread_id: ThreadIdPath,
    run_id: str,
    services: ServicesDep,
    actor: ActorDep,
    wait: Annotated[bool, Query()] = False,
    action: Annotated[Literal["interrupt", "rollback"], Query()] = "interrupt",
) -> Response:
    run = await _find_run(services, actor, thread_id, run_id)
    if run is not None and run.done:
        raise RunNotFound(f"run {run_id!r} has ended; there is nothing to cancel")
    if not await services.runs.cancel(run_id, rollback=action == "rollback"):
        raise RunNotFound(f"run {run_id!r} is not in flight")
    if wait and run is not None:
        await services.runs.settled(run)
        return json_response(output_of(run) if run.error is None else {})
    return Response(status_code=202 if not wait else 204)
