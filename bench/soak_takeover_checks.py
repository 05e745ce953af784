"""The takeover soak's checks: what each follower read (its terminal frame, its text after the
last reset, its frame ids), what each thread holds afterwards, and how long takeovers took."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.runs.takeover import next_base
from bench.openai_standin import Reply
from bench.soak_takeover_clients import Clients, Turn
from bench.soak_takeover_system import Kill

# What RUN_MAX_ATTEMPTS's run_lost says; the other run_lost errors are not allowed here.
ATTEMPTS_RAN_OUT = "RUN_MAX_ATTEMPTS"
TOOK_OVER = re.compile(r"took over run (\S+) \(thread")


def allowed(turn: Turn) -> bool:
    """A coded error the issue allows: run_lost after the run's attempts ran out."""
    return turn.terminal == "error:run_lost" and ATTEMPTS_RAN_OUT in turn.error_message


def spans(ids: list[int]) -> str:
    """``1-35, 1000001-1000062``: the ids read, as runs of consecutive ones."""
    out: list[str] = []
    for position in ids:
        if out and position == int(out[-1].rpartition("-")[2]) + 1:
            out[-1] = f"{out[-1].partition('-')[0]}-{position}"
        else:
            out.append(str(position))
    return ", ".join(out)


def evidence(turn: Turn) -> str:
    connections = "; ".join(
        f"r{c.replica} {c.status} {c.frames} frames -> {c.end}" for c in turn.connections
    )
    return (
        f"{turn.request_id} (thread {turn.thread}, {turn.outcome}, "
        f"{turn.ended - turn.started:.1f} s): starts [{', '.join(turn.starts)}]; "
        f"connections [{connections}]; ids [{spans(turn.ids)}]; last frames {turn.tail[-3:]}"
    )


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    figures: Counter[str] = field(default_factory=Counter)


def check_streams(turns: list[Turn]) -> Findings:
    """Each follower's reading: a terminal frame; after the last reset, chunks that make the
    final text; ids that only grow, with gaps only where a taken-over run's reset starts."""
    found = Findings()
    for turn in turns:
        f = found.figures
        f[f"outcome {turn.outcome}"] += 1
        f["connections"] += len(turn.connections)
        f["reconnections"] += max(0, len(turn.connections) - 1)
        f["resets"] += len(turn.resets)
        f["frames"] += len(turn.ids)
        if turn.outcome != "final" and not allowed(turn):
            f["not final"] += 1
            found.problems.append(f"no final: {evidence(turn)}")
        if turn.terminal == "final" and "".join(turn.chunks) != turn.final_text:
            f["text mismatches"] += 1
            found.problems.append(
                f"chunks after the last reset {''.join(turn.chunks)!r} are not final.text "
                f"{turn.final_text!r}: {evidence(turn)}"
            )
        pairs = list(zip(turn.ids, turn.ids[1:], strict=False))
        if any(b <= a for a, b in pairs):
            f["ids not increasing"] += 1
            found.problems.append(f"frame ids do not strictly increase: {evidence(turn)}")
        # A taken-over run's frames go on from the next million: the only gap allowed.
        gaps = [
            (a, b)
            for a, b in pairs
            if b > a + 1 and not (b in turn.reset_ids and b >= next_base(a))
        ]
        if gaps or (turn.ids and turn.ids[0] != 1):
            f["gaps"] += 1
            found.problems.append(f"frames missing (ids {gaps}): {evidence(turn)}")
    return found


def check_thread(turns: list[Turn], messages: list[dict[str, Any]], full: str) -> Findings:
    """Each turn once, in order: its user message (``<requestId>:user``) and one answer, the
    stand-in's whole reply; a turn that ended with the allowed run_lost may lack the answer."""
    found = Findings()
    f, where = found.figures, turns[0].thread
    answers: dict[str, list[str]] = {}
    order: list[str] = []
    current: str | None = None
    for message in messages:
        if message["role"] == "user":
            current = str(message["id"]).removesuffix(":user")
            order.append(current)
            answers.setdefault(current, [])
        elif message["role"] == "assistant" and current is not None:
            answers[current].append(str(message["content"]))
        else:
            f["other violations"] += 1
            found.problems.append(f"{where}: unexpected {message['role']} message {message}")
    seen = Counter(order)
    for turn in turns:
        f["turns"] += 1
        rid, got = turn.request_id, answers.get(turn.request_id, [])
        if seen[rid] > 1 or len(got) > 1:
            f["duplicated"] += 1
            found.problems.append(f"{where}: {rid} held {seen[rid]} times, {len(got)} answers")
        elif seen[rid] == 0 or (not got and not allowed(turn)):
            f["lost"] += 1
            found.problems.append(f"{where}: {rid} lost (user message {seen[rid]}, answers "
                                  f"{len(got)}): {evidence(turn)}")  # fmt: skip
        elif got and (got[0] != full or (turn.terminal == "final" and got[0] != turn.final_text)):
            f["other violations"] += 1
            found.problems.append(f"{where}: {rid} answered {got[0]!r}, final {turn.final_text!r}")
    expected = [t.request_id for t in turns]
    if [r for r in order if r in expected] != [r for r in expected if r in seen]:
        f["other violations"] += 1
        found.problems.append(f"{where}: turns out of order: {order} vs sent {expected}")
    unknown = [r for r in order if r not in expected]
    if unknown:
        f["other violations"] += 1
        found.problems.append(f"{where}: user messages of no turn sent here: {unknown}")
    return found


async def check_histories(clients: Clients) -> Findings:
    """Every thread's history, read after the soak from a live replica."""
    full = "".join(Reply(token_count=clients.args.tokens).words())
    threads: dict[str, list[Turn]] = {}
    for turn in clients.turns:
        threads.setdefault(turn.thread, []).append(turn)
    found = Findings()
    limit = asyncio.Semaphore(8)
    replicas = clients.replicas

    async def one(thread: str, turns: list[Turn]) -> None:
        response: httpx.Response | None = None
        for _ in range(3):
            async with limit:
                url = f"{replicas.url(replicas.pick())}/threads/{thread}/messages"
                response = await clients.http.get(url, params={"userId": turns[0].user})
            if response.status_code in (200, 404):
                break
        assert response is not None
        if response.status_code not in (200, 404):
            found.problems.append(f"{thread}: GET messages answered {response.status_code}")
            found.figures["other violations"] += 1
            return
        messages = response.json()["messages"] if response.status_code == 200 else []
        result = check_thread(turns, messages, full)
        found.problems.extend(result.problems)
        found.figures.update(result.figures)
        found.figures["threads"] += 1

    await asyncio.gather(*(one(t, turns) for t, turns in threads.items()))
    return found


@dataclass
class Takeovers:
    delays: list[float] = field(default_factory=list)  # seconds from a kill to a reset read
    by_kill: dict[int, list[float]] = field(default_factory=dict)
    in_flight: dict[int, tuple[int, int]] = field(default_factory=dict)  # kill: (runs, reset)
    stray: list[str] = field(default_factory=list)  # resets no recent kill explains
    logged: set[str] = field(default_factory=set)  # runs the replicas' logs say they took over
    reset_runs: set[str] = field(default_factory=set)


def takeovers(
    turns: list[Turn], kills: list[Kill], logs: dict[str, str], within: float
) -> Takeovers:
    """Each reset a follower read, against the last kill before it; and, for each kill, the
    runs started on the killed replica and in flight then, and how many of them were reset."""
    out = Takeovers()
    for log in logs.values():
        out.logged.update(TOOK_OVER.findall(log))
    for turn in turns:
        if turn.resets:
            out.reset_runs.add(turn.request_id)
        for position, read in turn.resets:
            before = [k for k, kill in enumerate(kills) if kill.at <= read]
            if not before or read - kills[before[-1]].at > within:
                out.stray.append(f"reset {position} read with no kill in the {within:g} s "
                                 f"before: {evidence(turn)}")  # fmt: skip
                continue
            delay = read - kills[before[-1]].at
            out.delays.append(delay)
            out.by_kill.setdefault(before[-1], []).append(delay)
    for k, kill in enumerate(kills):
        ran_there = [
            t for t in turns
            if any(s == f"{kill.replica} 202" for s in t.starts) and t.started < kill.at < t.ended
            and not any(read < kill.at for _, read in t.resets)
        ]  # fmt: skip
        reset = sum(any(read >= kill.at for _, read in t.resets) for t in ran_there)
        out.in_flight[k] = (len(ran_there), reset)
    return out
