"""The soak's clients: each loops over chat turns on threads of its own and behaves as it was
dealt (reads to the end, leaves, cancels, double-sends, or drops and rejoins: bench.soak_rejoin);
and the Redis restart halfway."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.load import ProcessTree
from bench.soak_rejoin import Rejoin, rejoin_turn
from bench.soak_system import Store
from bench.soak_wire import error_code, frame_data, sse_frames

# After Redis is back, how long its clients may still see the outage (reconnects, runs that
# were already failing).
OUTAGE_GRACE = 5.0


@dataclass
class Turn:
    """One request of a client on a thread, and how it ended as the client saw it."""

    thread: str
    user: str
    request_id: str
    behaviour: str  # normal, disconnect, cancel, rejoin, double (the first), second (its twin)
    content: str
    outcome: str = ""  # stop, cancelled, left, error:<code>, refused:<status>:<code>, transport:<x>
    text: str = ""  # the final text, or what a leaving client had read
    started: float = 0.0
    ended: float = 0.0
    after: str = ""  # the outcome of the client's last turn on this thread that ran
    since: float = 0.0  # when that turn ended


@dataclass
class Soak:
    args: argparse.Namespace
    url: str
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    turns: list[Turn] = field(default_factory=list)
    calls: Counter[tuple[str, int | str, str]] = field(default_factory=Counter)
    server_errors: list[tuple[float, str]] = field(default_factory=list)  # (time, "POST /x 503 c")
    error_frames: list[tuple[float, str]] = field(default_factory=list)
    outage: tuple[float, float] | None = None
    other: str | None = None  # a second replica on the same Redis, where half the rejoins go
    rejoins: list[Rejoin] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)

    def record(self, endpoint: str, status: int | str, code: str = "") -> None:
        self.calls[(endpoint, status, code)] += 1
        if isinstance(status, int) and status >= 500:
            self.server_errors.append((time.monotonic(), f"{endpoint} {status} {code}"))

    def may_lose(self, turn: Turn) -> bool:
        """Whether the outage may have cost a cancelled or abandoned turn its partial reply.

        The partial is written after the run stops (keep_partial() logs a failed write and
        moves on); the run of an abandoned stream stops only once the server notices that its
        client left, which under load can take a few seconds.
        """
        if turn.outcome == "cancelled":
            return self.in_outage(turn.started, turn.ended)
        return turn.outcome == "left" and self.in_outage(turn.started, turn.ended + OUTAGE_GRACE)

    def in_outage(self, start: float, end: float | None = None) -> bool:
        if self.outage is None:
            return False
        down, up = self.outage
        return start <= up + OUTAGE_GRACE and (end if end is not None else start) >= down


async def stream_turn(soak: Soak, http: httpx.AsyncClient, turn: Turn, rng: random.Random) -> None:
    body = {"requestId": turn.request_id, "threadId": turn.thread, "userId": turn.user,
            "message": {"content": turn.content}}  # fmt: skip
    # Disconnect, cancel or double-send after this many chunks (0: right after the headers).
    act_at = rng.randint(0 if turn.behaviour != "double" else 1, max(1, soak.args.tokens - 5))
    side: asyncio.Task[None] | None = None
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
            chunks, buffer, read = 0, bytearray(), []
            if act_at == 0 and turn.behaviour == "disconnect":
                turn.outcome = "left"
                return  # leaving the block closes the connection mid-stream
            if act_at == 0 and turn.behaviour == "cancel":
                side = asyncio.create_task(cancel(soak, http, turn.request_id))
            async for raw in response.aiter_bytes():  # decoded when the server gzipped it
                buffer += raw
                for frame in sse_frames(buffer):
                    if b"event: stream_event" in frame:
                        chunks += 1
                        if turn.behaviour == "disconnect":
                            read.append(frame_data(frame)["content"])
                    elif b"event: final" in frame:
                        final = frame_data(frame)
                        turn.outcome = final["metadata"]["finishReason"] or "stop"
                        turn.text = final["text"]
                    elif b"event: error" in frame:
                        code = frame_data(frame)["code"]
                        turn.outcome = f"error:{code}"
                        soak.error_frames.append((time.monotonic(), code))
                    if turn.outcome or chunks != act_at or side is not None:
                        continue
                    if turn.behaviour == "disconnect":
                        turn.outcome, turn.text = "left", "".join(read)
                        return
                    if turn.behaviour == "cancel":
                        side = asyncio.create_task(cancel(soak, http, turn.request_id))
                    elif turn.behaviour == "double":
                        side = asyncio.create_task(double_send(soak, http, turn))
            if not turn.outcome:
                turn.outcome = "transport:ended without final"
    except httpx.HTTPError as exc:
        turn.outcome = f"transport:{type(exc).__name__}"
        soak.record("POST /stream", type(exc).__name__)
    finally:
        turn.ended = time.monotonic()
        if side is not None:
            await side


async def cancel(soak: Soak, http: httpx.AsyncClient, request_id: str) -> None:
    try:
        response = await http.post(f"/cancel/{request_id}")
        code = error_code(response)
        soak.record("POST /cancel", response.status_code, code)
    except httpx.HTTPError as exc:
        soak.record("POST /cancel", type(exc).__name__)


async def double_send(soak: Soak, http: httpx.AsyncClient, first: Turn) -> None:
    """A second request on ``first``'s thread while it runs: refused, or (enqueue) queued."""
    turn = Turn(first.thread, first.user, f"{first.request_id}-2", "second", "the same again")
    soak.turns.append(turn)
    body = {"requestId": turn.request_id, "threadId": turn.thread, "userId": turn.user,
            "message": {"content": turn.content}}  # fmt: skip
    turn.started = time.monotonic()
    try:
        response = await http.post("/generate", json=body)
        code = error_code(response)
        soak.record("POST /generate", response.status_code, code)
        if response.status_code == 200:
            turn.outcome, turn.text = "stop", response.json()["text"]
        else:
            turn.outcome = f"refused:{response.status_code}:{code}"
    except httpx.HTTPError as exc:
        turn.outcome = f"transport:{type(exc).__name__}"
        soak.record("POST /generate", type(exc).__name__)
    turn.ended = time.monotonic()


async def client(
    soak: Soak, http: httpx.AsyncClient, index: int, behaviour: str, phase: str, until: float
) -> None:
    rng = random.Random(f"{soak.args.seed}-{phase}-{index}")
    user = f"soak-user-{index}"
    n, ran, previous = 0, 0, None
    while time.monotonic() < until:
        # A refused request moves nothing on: the client tries its thread again.
        thread = f"soak-{soak.run}-{phase}-{index}-{ran // soak.args.turns_per_thread}"
        turn = Turn(thread, user, f"r-{soak.run}-{phase}-{index}-{n}", behaviour, f"turn {n}")
        if previous is not None and previous.thread == thread:
            refused = previous.outcome.startswith("refused")
            turn.after = previous.after if refused else previous.outcome
            turn.since = previous.since if refused else previous.ended
        soak.turns.append(turn)
        n += 1
        if behaviour == "rejoin":
            await rejoin_turn(soak, http, turn, rng)
        else:
            await stream_turn(soak, http, turn, rng)
        previous = turn
        if turn.outcome.startswith("refused"):
            await asyncio.sleep(soak.args.backoff)  # as a client would, before it tries again
        else:
            ran += 1


async def restart_redis(soak: Soak, store: Store, at: float, outage: float) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    down = time.monotonic()
    await asyncio.to_thread(store.stop)
    await asyncio.sleep(outage)
    await asyncio.to_thread(store.start)
    soak.outage = (down, time.monotonic())


async def drive(
    soak: Soak, phase: str, seconds: float, store: Store | None, server: ProcessTree
) -> int:
    """Run every client for ``seconds``; returns the largest RSS seen (KiB)."""
    args = soak.args
    order = list(range(args.concurrency))
    random.Random(args.seed).shuffle(order)
    tenth = args.concurrency // 10
    behaviours = {i: "normal" for i in order}
    for k, name in enumerate(("disconnect", "cancel", "double", "rejoin")):
        for i in order[k * tenth : (k + 1) * tenth]:
            behaviours[i] = name
    until = time.monotonic() + seconds
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout would close them, so
    # a request never races the server closing its connection (a client-side ReadError).
    limits = httpx.Limits(
        max_connections=args.concurrency * 2 + 16,
        max_keepalive_connections=None,
        keepalive_expiry=2.0,
    )
    timeout = httpx.Timeout(args.request_timeout, connect=10)
    peak = 0
    async with httpx.AsyncClient(base_url=soak.url, limits=limits, timeout=timeout) as http:
        tasks = [
            asyncio.create_task(client(soak, http, i, behaviours[i], phase, until))
            for i in range(args.concurrency)
        ]
        if store is not None:
            tasks.append(asyncio.create_task(restart_redis(soak, store, until - seconds / 2,
                                                           args.outage)))  # fmt: skip
        pending = set(tasks)
        hard_stop = until + args.request_timeout + 15
        while pending and time.monotonic() < hard_stop:
            peak = max(peak, server.rss_bytes() // 1024)
            _, pending = await asyncio.wait(pending, timeout=0.5)
        for task in pending:  # bounded: whatever is still running now is reported as hung
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return peak
