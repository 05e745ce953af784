"""The takeover soak's clients and its killer.

A conversation is a thread of one to three turns, taken in sequence. A turn is started with
``POST /start`` on a live replica picked at random and followed with ``GET <streamUrl>`` on
another pick; when a connection breaks (its replica was killed) the client comes back on a live
replica with ``Last-Event-ID`` (the last id it read), at most :data:`MAX_CONNECTIONS` times. An
``error`` frame counts as the run's own once a second connection replays it (same id, same code):
a rejoin's reader may end one connection with an error that is not the run's. Every turn has a
deadline. The killer ``kill -9``\\ s one replica (round-robin) every ``--kill-every`` seconds and
starts it again on its port ``--down`` seconds later.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.soak_takeover_system import Replicas
from bench.soak_wire import error_code, frame_data, frame_event, frame_id, sse_frames

MAX_STARTS = 8  # POST /start tries: a replica may die under one
MAX_CONNECTIONS = 12  # GET /stream connections per turn
RETRY_AFTER = 0.25  # seconds between two tries
LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=2.0)


@dataclass
class Connection:
    replica: int
    status: int | str = ""  # the HTTP status, or the transport error's name
    frames: int = 0
    end: str = ""  # final, error:<code>, suspect:<code>, broken:<exc>, ended, or the status


@dataclass
class Turn:
    phase: str
    thread: str
    user: str
    request_id: str
    content: str
    previous: str = ""  # the request id of the thread's turn before this one
    started: float = 0.0
    ended: float = 0.0
    starts: list[str] = field(default_factory=list)  # each POST /start: "<replica> <outcome>"
    stream_url: str = ""
    connections: list[Connection] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    resets: list[tuple[int, float]] = field(default_factory=list)  # (frame id, time read)
    reset_ids: set[int] = field(default_factory=set)
    chunks: list[str] = field(default_factory=list)  # since the last reset
    final_text: str | None = None
    terminal: str = ""  # final, or error:<code>
    error_message: str = ""
    outcome: str = ""  # the terminal, or not-started, gave-up, hang
    tail: list[str] = field(default_factory=list)  # the last frames read, for the report

    def shown(self, raw: bytes) -> None:
        self.tail = [*self.tail[-5:], raw.decode(errors="replace").replace("\n", " | ")[:200]]


@dataclass
class Clients:
    args: argparse.Namespace
    replicas: Replicas
    http: httpx.AsyncClient
    turns: list[Turn] = field(default_factory=list)
    calls: Counter[tuple[str, int | str, str]] = field(default_factory=Counter)
    run: str = field(default_factory=lambda: f"{time.time_ns() % 10**6:06d}")

    def record(self, endpoint: str, status: int | str, code: str = "") -> None:
        self.calls[(endpoint, status, code)] += 1


async def start_turn(clients: Clients, turn: Turn) -> bool:
    """``POST /start`` until a replica answers 202, or says the run is on (our own earlier
    try, whose answer a kill cut off): then the turn has a stream to follow."""
    body = {"requestId": turn.request_id, "threadId": turn.thread, "userId": turn.user,
            "message": {"content": turn.content}}  # fmt: skip
    replicas = clients.replicas
    for _ in range(MAX_STARTS):
        replica = replicas.pick()
        try:
            response = await clients.http.post(f"{replicas.url(replica)}/start", json=body)
        except httpx.HTTPError as exc:
            clients.record("POST /start", type(exc).__name__)
            turn.starts.append(f"{replica} {type(exc).__name__}")
            await asyncio.sleep(RETRY_AFTER)
            continue
        code = error_code(response)
        if response.status_code == 202:
            clients.record("POST /start", 202)
            turn.starts.append(f"{replica} 202")
            turn.stream_url = response.json()["streamUrl"]
            return True
        details: Any = {}
        if response.status_code == 409:
            details = response.json()["error"].get("details") or {}
        holder = details.get("requestId")
        if code == "thread_busy":
            # No holder named: the lock was let go between the claim and the read of its holder.
            whose = {turn.request_id: "this run", turn.previous: "the previous turn"}
            code = f"{code} ({whose.get(holder, 'another run') if holder else 'none named'})"
        clients.record("POST /start", response.status_code, code)
        turn.starts.append(f"{replica} {response.status_code} {code}".rstrip())
        if code.startswith("duplicate_request") or holder == turn.request_id:
            turn.stream_url = f"/stream/{turn.request_id}?userId={turn.user}"
            return True
        await asyncio.sleep(RETRY_AFTER)  # thread_busy: the previous turn's claim, a moment
    return False


async def follow(clients: Clients, turn: Turn) -> None:
    """Read the run's frames, connection after connection, until its terminal frame."""
    replicas, avoid = clients.replicas, None
    suspect: tuple[int, str] | None = None
    for _ in range(MAX_CONNECTIONS):
        last = turn.ids[-1] if turn.ids else 0  # a suspect error frame is not in ids
        replica = replicas.pick(avoid)
        connection = Connection(replica)
        turn.connections.append(connection)
        headers = {"Last-Event-ID": str(last)} if last else {}
        try:
            url = replicas.url(replica) + turn.stream_url
            async with clients.http.stream("GET", url, headers=headers) as response:
                connection.status = response.status_code
                if response.status_code != 200:
                    await response.aread()
                    code = error_code(response)
                    clients.record("GET /stream", response.status_code, code)
                    connection.end = f"{response.status_code} {code}".rstrip()
                else:
                    clients.record("GET /stream", 200)
                    suspect = await _read(turn, response, connection, suspect)
        except httpx.HTTPError as exc:
            clients.record("GET /stream", type(exc).__name__)
            connection.status = connection.status or type(exc).__name__
            connection.end = f"broken:{type(exc).__name__}"
            avoid = replica
        if turn.terminal:
            return
        await asyncio.sleep(RETRY_AFTER)


async def _read(
    turn: Turn, response: httpx.Response, connection: Connection, suspect: tuple[int, str] | None
) -> tuple[int, str] | None:
    buffer = bytearray()
    async for raw in response.aiter_bytes():
        buffer += raw
        for frame in sse_frames(buffer):
            position = frame_id(frame)
            if position is None:
                continue  # a ping
            connection.frames += 1
            turn.shown(frame)
            event, data = frame_event(frame), frame_data(frame)
            if event == b"error":
                code = str(data.get("code", ""))
                if suspect != (position, code):
                    connection.end = f"suspect:{code}"
                    return (position, code)
                turn.ids.append(position)
                turn.terminal, turn.error_message = f"error:{code}", str(data.get("message"))
                connection.end = turn.terminal
                return suspect
            turn.ids.append(position)
            if event == b"final":
                turn.terminal, turn.final_text = "final", data["text"]
                connection.end = "final"
                return suspect
            kind = data.get("type") if isinstance(data, dict) else None
            if kind == "chunk":
                turn.chunks.append(data["content"])
            elif kind == "reset":
                turn.chunks = []
                turn.resets.append((position, time.monotonic()))
                turn.reset_ids.add(position)
    connection.end = "ended"
    return suspect


async def run_turn(clients: Clients, turn: Turn) -> None:
    turn.started = time.monotonic()
    try:
        async with asyncio.timeout(clients.args.turn_deadline):
            if not await start_turn(clients, turn):
                turn.outcome = "not-started"
                return
            await follow(clients, turn)
            turn.outcome = turn.terminal or "gave-up"
    except TimeoutError:
        turn.outcome = "hang"
    finally:
        turn.ended = time.monotonic()


async def conversation(
    clients: Clients, phase: str, index: int, turns: int, at: float, limit: asyncio.Semaphore
) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    thread = f"to-{clients.run}-{phase}-{index}"
    previous = ""
    for n in range(turns):
        turn = Turn(phase, thread, f"user-{phase}-{index}", f"r-{clients.run}-{phase}-{index}-{n}",
                    f"turn {n} of {thread}", previous)  # fmt: skip
        previous = turn.request_id
        clients.turns.append(turn)
        async with limit:
            await run_turn(clients, turn)
        if not turn.terminal:
            return  # the run may be going on still: the next turn would only meet thread_busy


def plan(streams: int, seed: str) -> list[int]:
    """Turns per thread, adding up to ``streams``: most threads one, some two or three."""
    rng, sizes = random.Random(seed), list[int]()
    while sum(sizes) < streams:
        sizes.append(min(rng.choices((1, 2, 3), weights=(6, 2.5, 1.5))[0], streams - sum(sizes)))
    return sizes


async def killer(clients: Clients, start: float, seconds: float) -> None:
    """Every ``--kill-every`` s (before ``seconds`` are up) ``kill -9`` the next replica,
    round-robin, and start it again ``--down`` s later."""
    args, replicas = clients.args, clients.replicas
    count = len(replicas.ports)
    k = 1
    while (at := start + k * args.kill_every) < start + seconds:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        replica = (k - 1) % count
        kill = replicas.kill(replica)
        await asyncio.sleep(args.down)
        await replicas.restart(replica, kill)
        k += 1


async def drive(clients: Clients, phase: str, streams: int, seconds: float, kills: bool) -> None:
    """``streams`` turns spread over ``seconds``, at most ``--concurrency`` at once; with
    ``kills``, the killer meanwhile. Bounded: whatever runs past the deadlines is cancelled."""
    sizes = plan(streams, f"{clients.args.seed}-{phase}")
    limit = asyncio.Semaphore(clients.args.concurrency)
    start = time.monotonic()
    tasks, before = [], 0
    for index, size in enumerate(sizes):
        at = start + seconds * before / streams
        tasks.append(asyncio.create_task(conversation(clients, phase, index, size, at, limit)))
        before += size
    if kills:
        tasks.append(asyncio.create_task(killer(clients, start, seconds)))
    hard_stop = seconds + 3 * clients.args.turn_deadline + 30
    _, late = await asyncio.wait(tasks, timeout=hard_stop)
    for task in late:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
