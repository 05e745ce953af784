"""Soak: concurrent streams with disconnects, cancels, double-sends and a Redis restart.

One invocation starts, as subprocesses on free loopback ports, a redis-server (append-only, so
that a restart keeps thread memory, as in docker-compose.yml), the OpenAI stand-in and
``python -m app`` on that Redis. ``--concurrency`` clients then loop over chat turns, each on
threads of its own with a userId of its own, first for a warm-up and then for ``--seconds``:

- a tenth of the clients (chosen at random, seeded) leave each stream after a few chunks;
- a tenth ``POST /cancel/{requestId}`` after a few chunks;
- a tenth send a second request on their thread while the first runs (409 ``thread_busy``, or
  with ``--multitask enqueue`` a turn that waits its turn);
- the rest read every stream to its end.

Halfway through, Redis is stopped for ``--outage`` seconds and started again. Afterwards the
script checks that no request got a 5xx other than the 503s of the outage, that every thread's
history is what its client saw (:func:`check_thread`), and that the server's RSS after an idle
pause is within 20% of its warm baseline. It prints one markdown summary and exits 1 if a check
failed.

``python -m bench.soak`` (about 2 minutes), ``--quick`` (about 45 s), ``--help`` for the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import resource
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis

from bench.openai_standin import Reply
from bench.processes import stop_process

REPO = Path(__file__).resolve().parents[1]
# Settings a developer's shell could leak into the processes under test.
_SCRUB = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "REDIS_URL", "HOST", "PORT", "WORKERS", "API_KEYS")
# After Redis is back, how long its clients may still see the outage (reconnects, runs that
# were already failing).
OUTAGE_GRACE = 5.0
RSS_TOLERANCE = 0.20
_LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ (WARNING|ERROR|CRITICAL) ([\w.]+): (.*)$")
_NUMBERS = re.compile(r"\d+")


# --- Processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """A child with its output in a log file, in its own session, stopped by its pid."""

    def __init__(self, name: str, argv: list[str], workdir: Path, **env: str) -> None:
        self.name = name
        self.log_path = workdir / f"{name}.log"
        environ = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        environ.update(env, PYTHONPATH=str(REPO))
        with self.log_path.open("wb") as log:
            self.popen = subprocess.Popen(
                argv,
                cwd=workdir,  # a scratch directory: no developer's .env is read
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, ready: Any, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: {what} did not happen:\n{self.log()[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        stop_process(self.popen, grace=15)


class RedisProcess:
    """redis-server on one port, append-only so that a stop/start keeps its data."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: Process | None = None

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        argv = [exe, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(self.workdir),
                "--protected-mode", "no"]  # fmt: skip
        self.process = Process("redis", argv, self.workdir)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)

        def answers() -> bool:
            with contextlib.suppress(redis.ConnectionError):
                return bool(client.ping())
            return False

        try:
            self.process.wait_for(answers, "PING")
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()  # SIGTERM: redis fsyncs its append-only file, then exits


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@contextlib.contextmanager
def processes(
    args: argparse.Namespace, workdir: Path
) -> Iterator[tuple[RedisProcess, Process, str]]:
    """Redis, the stand-in and the server; yields Redis, the server and the server's URL."""
    store = RedisProcess(workdir)
    store.start()
    standin_port, port = free_port(), free_port()
    standin = Process(
        "standin",
        [sys.executable, "-m", "bench.openai_standin", "--port", str(standin_port),
         "--tokens", str(args.tokens), "--delay-ms", str(args.delay_ms)],
        workdir,
    )  # fmt: skip
    server: Process | None = None
    try:
        standin.wait_for(lambda: "OpenAI stand-in on" in standin.log(), "start")
        server = Process(
            "server",
            [sys.executable, "-m", "app"],
            workdir,
            HOST="127.0.0.1",
            PORT=str(port),
            REDIS_URL=store.url,
            OPENAI_API_KEY="bench",
            OPENAI_BASE_URL=f"http://127.0.0.1:{standin_port}/v1",
            UPSTREAM_MAX_RETRIES="0",
            MULTITASK=args.multitask,
            LOG_LEVEL="warning",
            SHUTDOWN_GRACE_SECONDS="2",
            PLAYGROUND="false",
        )

        def ready() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200
            return False

        server.wait_for(ready, "GET /ready 200")
        yield store, server, f"http://127.0.0.1:{port}"
    finally:
        if server is not None:
            server.stop()
        standin.stop()
        store.stop()


# --- Clients --------------------------------------------------------------------------------


@dataclass
class Turn:
    """One request of a client on a thread, and how it ended as the client saw it."""

    thread: str
    user: str
    request_id: str
    behaviour: str  # normal, disconnect, cancel, double (the first), second (its busy twin)
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


def _frames(buffer: bytearray) -> Iterator[bytes]:
    """Pop every complete SSE frame off ``buffer`` (frames end with a blank line)."""
    while True:
        cuts = [
            (i, n) for sep, n in ((b"\n\n", 2), (b"\r\n\r\n", 4)) if (i := buffer.find(sep)) >= 0
        ]
        if not cuts:
            return
        cut, size = min(cuts)
        frame = bytes(buffer[:cut])
        del buffer[: cut + size]
        yield frame


def _data(frame: bytes) -> Any:
    for line in frame.splitlines():
        if line.startswith(b"data:"):
            return orjson.loads(line[5:])
    return None


def _error_code(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        return str(response.json()["error"]["code"])
    return ""


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
                code = _error_code(response)
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
            async for raw in response.aiter_raw():
                buffer += raw
                for frame in _frames(buffer):
                    if b"event: stream_event" in frame:
                        chunks += 1
                        if turn.behaviour == "disconnect":
                            read.append(_data(frame)["content"])
                    elif b"event: final" in frame:
                        final = _data(frame)
                        turn.outcome = final["metadata"]["finishReason"] or "stop"
                        turn.text = final["text"]
                    elif b"event: error" in frame:
                        code = _data(frame)["code"]
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
        code = _error_code(response)
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
        code = _error_code(response)
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
        await stream_turn(soak, http, turn, rng)
        previous = turn
        if turn.outcome.startswith("refused"):
            await asyncio.sleep(soak.args.backoff)  # as a client would, before it tries again
        else:
            ran += 1


async def restart_redis(soak: Soak, store: RedisProcess, at: float, outage: float) -> None:
    await asyncio.sleep(max(0.0, at - time.monotonic()))
    down = time.monotonic()
    await asyncio.to_thread(store.stop)
    await asyncio.sleep(outage)
    await asyncio.to_thread(store.start)
    soak.outage = (down, time.monotonic())


async def drive(
    soak: Soak, phase: str, seconds: float, store: RedisProcess | None, server_pid: int
) -> int:
    """Run every client for ``seconds``; returns the largest RSS seen (KiB)."""
    args = soak.args
    order = list(range(args.concurrency))
    random.Random(args.seed).shuffle(order)
    tenth = args.concurrency // 10
    behaviours = {i: "normal" for i in order}
    for k, name in enumerate(("disconnect", "cancel", "double")):
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
            peak = max(peak, rss_kib(server_pid))
            _, pending = await asyncio.wait(pending, timeout=0.5)
        for task in pending:  # bounded: whatever is still running now is reported as hung
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return peak


# --- Checks ---------------------------------------------------------------------------------


def check_thread(soak: Soak, turns: list[Turn], messages: list[dict[str, Any]]) -> list[str]:
    """What a thread's history must be, given what its client saw of each turn.

    Messages come in turns: the user's message (id ``<requestId>:user``) and the reply, if any.
    Consecutive messages never share a role, except that a user message stands alone when its
    turn ended without one: an upstream error, or a cancel or a disconnect before any token.
    Refused requests (4xx/5xx before the stream) leave nothing. A completed turn holds exactly
    the final text; a cancelled one exactly the text of its final frame; an abandoned one a
    prefix of the stand-in's reply that starts with what its client read. No id repeats, and
    the user messages follow the order in which the client sent them.
    """
    full = "".join(Reply(token_count=soak.args.tokens).words())
    problems: list[str] = []
    ids = Counter(m["id"] for m in messages)
    problems += [f"message id {i} appears {n} times" for i, n in ids.items() if n > 1]
    by_id = {t.request_id: t for t in turns}
    seen: list[str] = []
    i = 0
    while i < len(messages):
        message = messages[i]
        if message["role"] != "user":
            problems.append(f"message {i} ({message['role']}) follows no user message")
            i += 1
            continue
        reply = messages[i + 1] if i + 1 < len(messages) else None
        reply = reply if reply is not None and reply["role"] == "assistant" else None
        i += 2 if reply is not None else 1
        turn = by_id.get(str(message["id"]).removesuffix(":user"))
        if turn is None:
            problems.append(f"user message {message['id']} matches no request of this thread")
            continue
        seen.append(turn.request_id)
        text = None if reply is None else reply["content"]
        where = f"{turn.request_id} ({turn.behaviour}, {turn.outcome})"
        if message["content"] != turn.content:
            problems.append(f"{where}: user message is {message['content']!r}")
        if turn.outcome.startswith("refused"):
            problems.append(f"{where}: a refused request was written")
        elif turn.outcome == "stop" and (text != turn.text or text != full):
            problems.append(f"{where}: completed, but its reply is {text!r}")
        elif turn.outcome == "cancelled" and (text or "") != turn.text:
            if text is not None or not soak.may_lose(turn):
                problems.append(f"{where}: cancelled with {turn.text!r} but holds {text!r}")
        elif turn.outcome.startswith("error") and text is not None:
            problems.append(f"{where}: failed, but holds a reply {text!r}")
        elif text is not None and not (text.startswith(turn.text) and full.startswith(text)):
            problems.append(f"{where}: holds {text!r}, not a prefix of the reply")
    expected = [t.request_id for t in turns if t.request_id in set(seen)]
    if seen != expected:
        problems.append(f"user messages out of order: {seen} vs sent {expected}")
    for turn in turns:
        kept = turn.outcome in ("stop", "cancelled", "left")
        if kept and not soak.may_lose(turn) and turn.request_id not in seen:
            problems.append(f"{turn.request_id} ({turn.behaviour}, {turn.outcome}) is missing")
    return problems


async def check_histories(soak: Soak) -> tuple[int, list[str], Counter[str]]:
    threads: dict[str, list[Turn]] = {}
    for turn in soak.turns:
        threads.setdefault(turn.thread, []).append(turn)
    problems: list[str] = []
    lost: Counter[str] = Counter()
    limit = asyncio.Semaphore(16)

    async def one(http: httpx.AsyncClient, thread: str, turns: list[Turn]) -> None:
        async with limit:
            response = await http.get(
                f"/threads/{thread}/messages", params={"userId": turns[0].user}
            )
        if response.status_code == 404:
            messages: list[dict[str, Any]] = []
        elif response.status_code != 200:
            problems.append(f"{thread}: GET messages answered {response.status_code}")
            return
        else:
            messages = response.json()["messages"]
        found = check_thread(soak, turns, messages)
        problems.extend(f"{thread}: {p}" for p in found)
        if found and soak.args.logs is not None:
            dump = {"problems": found, "messages": messages, "turns": [vars(t) for t in turns]}
            soak.args.logs.mkdir(parents=True, exist_ok=True)
            (soak.args.logs / f"{thread}.json").write_bytes(
                orjson.dumps(dump, option=orjson.OPT_INDENT_2)
            )
        held = {str(m["id"]).removesuffix(":user") for m in messages}
        for turn in turns:
            if turn.outcome in ("cancelled", "left") and turn.request_id not in held:
                lost[turn.outcome] += 1

    async with httpx.AsyncClient(base_url=soak.url, timeout=30) as http:
        await asyncio.gather(*(one(http, t, turns) for t, turns in threads.items()))
    return len(threads), problems, lost


# --- Report ---------------------------------------------------------------------------------


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else 0.0


def _table(title: str, rows: list[tuple[Any, ...]], head: tuple[str, ...]) -> list[str]:
    lines = [f"| {' | '.join(head)} |", f"| {' | '.join('---' for _ in head)} |"]
    lines += [f"| {' | '.join(str(c) for c in row)} |" for row in rows]
    return [f"**{title}**", "", *lines, ""]


def report(
    soak: Soak,
    rss: dict[str, int],
    threads: int,
    problems: list[str],
    lost: Counter[str],
    server_log: str,
) -> tuple[list[str], bool]:
    args = soak.args
    lines = [
        f"Soak: {args.concurrency} clients for {args.seconds:g} s after a {args.warmup:g} s "
        f"warm-up; MULTITASK={args.multitask}; stand-in {args.tokens} tokens every "
        f"{args.delay_ms:g} ms; Redis down for {args.outage:g} s halfway.",
        "",
    ]
    calls = sorted(soak.calls.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2]))
    lines += _table(
        "Requests",
        [(e, s, c or "", n) for (e, s, c), n in calls],
        ("endpoint", "status", "code", "count"),
    )
    outcomes = Counter((t.behaviour, t.outcome) for t in soak.turns)
    lines += _table(
        "Turns, by client behaviour and outcome",
        [(b, o, n) for (b, o), n in sorted(outcomes.items())],
        ("behaviour", "outcome", "count"),
    )
    down, up = soak.outage or (0.0, 0.0)
    outside = [(t, e) for t, e in soak.server_errors if not soak.in_outage(t)]
    in_window = len(soak.server_errors) - len(outside)
    frames_out = Counter(c for t, c in soak.error_frames if not soak.in_outage(t))
    frames_in = Counter(c for t, c in soak.error_frames if soak.in_outage(t))
    last_5xx = max((t - up for t, _ in soak.server_errors if soak.in_outage(t)), default=None)
    ratio = rss["end"] / rss["baseline"]
    done = sorted(t.ended - t.started for t in soak.turns if t.outcome == "stop")
    verdicts = {
        "5xx": not outside,
        "503 only": all(" 503 store_unavailable" in e for t, e in soak.server_errors),
        "histories": not problems,
        "rss": ratio <= 1 + RSS_TOLERANCE,
        "restart": soak.outage is not None,
    }
    # A first request on a thread is busy when the client's previous run there has not ended
    # yet (a disconnect is noticed, and its run stopped, a moment later), or when a claim on
    # the thread outlived its run.
    busy = [t for t in soak.turns if t.behaviour != "second" and t.outcome.endswith("busy")]
    after = Counter(t.after for t in busy)
    soon = Counter(t.after for t in busy if t.started - t.since < 1.0)
    waited: dict[str, float] = {}
    for t in busy:
        waited[t.after] = max(waited.get(t.after, 0.0), t.started - t.since)
    rows = [
        ("Redis outage", f"{up - down:.1f} s (+{OUTAGE_GRACE:g} s grace)" if soak.outage else
         "did not happen", "ok" if verdicts["restart"] else "FAIL"),
        ("5xx in the outage window", f"{in_window} (last {last_5xx:+.1f} s after Redis was back)"
         if last_5xx is not None else "0", "ok" if verdicts["503 only"] else "FAIL"),
        ("5xx outside it", f"{len(outside)} {Counter(e for _, e in outside).most_common(5)}"
         if outside else "0", "ok" if verdicts["5xx"] else "FAIL"),
        ("error frames in / outside the window", f"{dict(frames_in)} / {dict(frames_out)}", ""),
        ("409 thread_busy on a first request, by how the client's last run there ended",
         ", ".join(f"{a}: {n} ({soon[a]} within 1 s)" for a, n in after.most_common()) or "0",
         ""),
        ("longest the thread then stayed busy, by the same", ", ".join(
         f"{a}: {w:.1f} s" for a, w in sorted(waited.items())) or "-", ""),
        ("cancelled / abandoned turns lost in the outage", f"{lost['cancelled']} / "
         f"{lost['left']}", ""),
        ("completed turns: duration p50 / p95 (stand-in alone: "
         f"{args.tokens * args.delay_ms / 1000:.1f} s)", f"{_pct(done, 50):.1f} / "
         f"{_pct(done, 95):.1f} s", ""),
        ("CPU during the soak: server / this load generator / wall", f"{soak.cpu['server']:.0f}"
         f" / {soak.cpu['client']:.0f} / {soak.cpu['wall']:.0f} s ({os.cpu_count()} cores)", ""),
        ("threads checked", threads, ""),
        ("history violations", len(problems), "ok" if verdicts["histories"] else "FAIL"),
        ("RSS baseline / peak / end (MiB)", f"{rss['baseline'] / 1024:.0f} / "
         f"{rss['peak'] / 1024:.0f} / {rss['end'] / 1024:.0f}", ""),
        ("RSS end / baseline", f"{ratio:.2f} (limit {1 + RSS_TOLERANCE:.2f})",
         "ok" if verdicts["rss"] else "FAIL"),
    ]  # fmt: skip
    lines += _table("Checks", rows, ("check", "result", "verdict"))
    if problems:
        lines += ["**First violations**", "", *(f"- {p}" for p in problems[:20]), ""]
    logged: Counter[tuple[str, str]] = Counter()
    for line in server_log.splitlines():
        if match := _LOG_RECORD.match(line):
            level, logger, message = match.groups()
            logged[(level, f"{logger}: {_NUMBERS.sub('N', message)[:70]}")] += 1
    if logged:
        lines += _table(
            "Server log records at WARNING and above",
            [(level, m.replace("|", "/"), n) for (level, m), n in logged.most_common(10)],
            ("level", "logger: message (numbers as N, first 70 characters)", "count"),
        )
    return lines, all(verdicts.values())


async def soak_run(args: argparse.Namespace, workdir: Path) -> tuple[list[str], bool]:
    with processes(args, workdir) as (store, server, url):
        pid = server.popen.pid
        soak = Soak(args, url)
        await drive(soak, "warm", args.warmup, None, pid)
        await asyncio.sleep(args.idle)
        rss = {"baseline": rss_kib(pid)}
        server_cpu, own = cpu_seconds(pid), resource.getrusage(resource.RUSAGE_SELF)
        wall = time.monotonic()
        rss["peak"] = await drive(soak, "soak", args.seconds, store, pid)
        after = resource.getrusage(resource.RUSAGE_SELF)
        soak.cpu = {
            "wall": time.monotonic() - wall,
            "server": cpu_seconds(pid) - server_cpu,
            "client": after.ru_utime + after.ru_stime - own.ru_utime - own.ru_stime,
        }
        await asyncio.sleep(args.idle)
        rss["end"] = rss_kib(pid)
        rss["peak"] = max(rss["peak"], rss["end"])
        threads, problems, lost = await check_histories(soak)
        log = server.log()
        if args.logs is not None:
            args.logs.mkdir(parents=True, exist_ok=True)
            for name in ("server", "standin", "redis"):
                shutil.copy(workdir / f"{name}.log", args.logs / f"{name}.log")
    return report(soak, rss, threads, problems, lost, log)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=300)
    parser.add_argument(
        "--warmup", type=float, default=15.0, help="seconds of load before the baseline"
    )
    parser.add_argument(
        "--idle", type=float, default=5.0, help="seconds idle before an RSS reading"
    )
    parser.add_argument("--outage", type=float, default=3.0, help="seconds Redis stays down")
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--turns-per-thread", type=int, default=6)
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--multitask", choices=("reject", "enqueue"), default="reject")
    parser.add_argument("--backoff", type=float, default=0.25, help="seconds after a refusal")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="15 s, 60 clients, 5 s warm-up")
    parser.add_argument("--record", type=Path, help="also write the summary to this file")
    parser.add_argument("--logs", type=Path, help="copy the processes' logs to this directory")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.concurrency, args.warmup = 15.0, 60, 5.0
    command = shlex.join(["python", "-m", "bench.soak", *sys.argv[1:]])
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        lines, ok = asyncio.run(soak_run(args, Path(tmp)))
    text = "\n".join([f"`{command}`", "", *lines])
    print(text)
    if args.record:
        args.record.write_text(f"# Soak benchmark\n\n{__doc__.split(chr(10), 1)[1].strip()}\n\n"
                               f"## Latest run ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} "
                               f"cores)\n\n{text}\n")  # fmt: skip
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
