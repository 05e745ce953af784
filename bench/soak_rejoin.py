"""The soak's rejoining clients (issue 13), and the check of what they read.

A rejoining client drops its connection after a few chunks and comes back with
``GET /stream/{requestId}?userId=...`` and ``Last-Event-ID`` (the last frame id it read): half the
time on the server that runs the turn (which replays the run from memory), half on a second
replica on the same Redis (which reads the run's log there). A connection that fails (a 503 or an
``error`` frame in the Redis outage, a transport error) is followed by another, from the last id
read, up to :data:`MAX_REJOINS`; an ``error`` frame is the run's own when the next connection
replays it with the same id and code.

Across its connections, a client that reached the end must have read frame ids 1, 2, ... up to
the terminal frame's, each once and in order, and a ``final`` whose text is all its chunks.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from bench.soak_wire import error_code, frame_data, frame_event, frame_id, sse_frames

if TYPE_CHECKING:  # bench.soak_clients deals this behaviour out: no import back at run time
    from bench.soak_clients import Soak, Turn

MAX_REJOINS = 8  # connections after the dropped one; bounded, like the rest of the soak
RETRY_AFTER = 1.0  # seconds between connections: the retry: the server gives EventSource


@dataclass
class Rejoin:
    """One turn whose client dropped its connection and rejoined, and what it read."""

    turn: Turn
    via: str  # "same" (the server running the turn) or "other" (the second replica)
    dropped_at: int  # chunks read before the drop
    ids: list[int] = field(default_factory=list)  # every frame id read, in order
    chunks: list[str] = field(default_factory=list)
    after_drop: int = 0  # frames read on the rejoining connections
    connections: int = 1
    failures: list[str] = field(default_factory=list)  # why a connection ended early
    terminal: str = ""  # "final" or "error:<code>" once read; "" if never
    final_text: str | None = None
    suspect: tuple[int, str] | None = None  # an error frame not yet known to be the run's


async def rejoin_turn(soak: Soak, http: httpx.AsyncClient, turn: Turn, rng: random.Random) -> None:
    body = {"requestId": turn.request_id, "threadId": turn.thread, "userId": turn.user,
            "message": {"content": turn.content}}  # fmt: skip
    via = "other" if soak.other is not None and rng.random() < 0.5 else "same"
    record = Rejoin(turn, via, rng.randint(1, max(1, soak.args.tokens - 5)))
    turn.started = time.monotonic()
    try:
        async with http.stream("POST", "/stream", json=body) as response:
            if response.status_code != 200:
                await response.aread()
                code = error_code(response)
                soak.record("POST /stream", response.status_code, code)
                turn.outcome = f"refused:{response.status_code}:{code}"
                return
            soak.record("POST /stream", 200)
            # Leaving this block with the body unread closes the connection mid-stream.
            await _read(soak, response, record, first=True)
    except httpx.HTTPError as exc:
        soak.record("POST /stream", type(exc).__name__)
        record.failures.append(f"first connection: {type(exc).__name__}")
    try:
        if not record.terminal:
            soak.rejoins.append(record)
            await _rejoin(soak, http, record)
    finally:
        turn.ended = time.monotonic()
        if record.terminal.startswith("error"):
            turn.outcome, turn.text = record.terminal, "".join(record.chunks)
        elif not record.terminal:
            turn.outcome, turn.text = "transport:no rejoin reached the end", "".join(record.chunks)


async def _rejoin(soak: Soak, http: httpx.AsyncClient, record: Rejoin) -> None:
    turn = record.turn
    base = soak.url if record.via == "same" else soak.other
    url = f"{base}/stream/{turn.request_id}"
    for _ in range(MAX_REJOINS):
        record.connections += 1
        headers = {"Last-Event-ID": str(record.ids[-1])} if record.ids else {}
        try:
            async with http.stream(
                "GET", url, params={"userId": turn.user}, headers=headers
            ) as response:
                if response.status_code != 200:
                    await response.aread()
                    code = error_code(response)
                    soak.record("GET /stream", response.status_code, code)
                    record.failures.append(f"{response.status_code} {code}")
                    if response.status_code == 404:  # unknown, or expired: no use asking again
                        return
                else:
                    soak.record("GET /stream", 200)
                    await _read(soak, response, record, first=False)
        except httpx.HTTPError as exc:
            soak.record("GET /stream", type(exc).__name__)
            record.failures.append(type(exc).__name__)
        if record.terminal:
            return
        await asyncio.sleep(RETRY_AFTER)


async def _read(soak: Soak, response: httpx.Response, record: Rejoin, *, first: bool) -> None:
    """Read frames into ``record`` until the terminal one, the first connection's drop, or an
    error frame that may be this connection's rather than the run's."""
    buffer, chunks = bytearray(), 0
    async for raw in response.aiter_bytes():
        buffer += raw
        for frame in sse_frames(buffer):
            position, event = frame_id(frame), frame_event(frame)
            if position is None:
                continue  # a ping
            data: Any = frame_data(frame)
            if event == b"error":
                code = str(data.get("code", ""))
                soak.error_frames.append((time.monotonic(), code))
                if not first and record.suspect != (position, code):
                    # The run's own error, or only this connection's (Redis went away under
                    # it)? The next connection tells: it replays the run's.
                    record.suspect = (position, code)
                    record.failures.append(f"error frame {code}")
                    return
                record.ids.append(position)
                record.after_drop += 0 if first else 1
                record.terminal = f"error:{code}"
                return
            record.ids.append(position)
            record.after_drop += 0 if first else 1
            if event == b"final":
                record.terminal, record.final_text = "final", data["text"]
                turn = record.turn
                turn.outcome = data["metadata"]["finishReason"] or "stop"
                turn.text = data["text"]
                return
            if isinstance(data, dict) and data.get("type") == "chunk":
                record.chunks.append(data["content"])
                chunks += 1
                if first and chunks == record.dropped_at:
                    return
    if not record.terminal:
        record.failures.append("ended without a terminal frame")


def check_rejoins(soak: Soak) -> tuple[dict[str, Any], list[str]]:
    """Figures over every rejoined turn, and the problems found: a frame id missing or read
    twice, ids out of order, a final text that is not the chunks read."""
    figures: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    problems: list[str] = []
    for r in soak.rejoins:
        turn = r.turn
        figures[f"via {r.via}"] += 1
        figures["connections"] += r.connections - 1
        figures["most connections"] = max(figures["most connections"], r.connections - 1)
        figures["frames"] += len(r.ids)
        figures["after drop"] += r.after_drop
        seen = Counter(r.ids)
        top = max(r.ids, default=0)
        lost = sorted(set(range(1, top + 1)) - set(r.ids))
        doubled = sorted(i for i, n in seen.items() if n > 1)
        figures["lost"] += len(lost)
        figures["duplicated"] += sum(seen[i] - 1 for i in doubled)
        where = f"{turn.request_id} (via {r.via}, dropped after {r.dropped_at} chunks)"
        if lost or doubled:
            problems.append(f"{where}: ids {r.ids}: lost {lost}, twice {doubled}")
        elif r.ids != sorted(r.ids):
            figures["out of order"] += 1
            problems.append(f"{where}: ids out of order: {r.ids}")
        if r.terminal == "final" and r.final_text != "".join(r.chunks):
            figures["text mismatches"] += 1
            problems.append(f"{where}: final text {r.final_text!r}, chunks {''.join(r.chunks)!r}")
        reasons.update(r.failures)
        within = soak.in_outage(turn.started, turn.ended)
        if r.terminal == "final":
            figures["final"] += 1
        elif r.terminal:
            code = r.terminal.partition(":")[2]
            figures[f"error {code}"] += 1
            # run_lost: the run's claim is gone and its log holds no terminal frame. No replica
            # dies here, so only the outage (the run's last log writes failed) explains it.
            if code == "run_lost" and not within:
                figures["run_lost outside the outage"] += 1
                problems.append(f"{where}: run_lost outside the outage: {r.failures}")
        else:
            figures["incomplete in the outage" if within else "incomplete outside it"] += 1
            if not within:
                problems.append(f"{where}: no rejoin reached the end: {r.failures}")
    return {**figures, "reasons": reasons}, problems
