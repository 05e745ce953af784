"""The soak's checks of every thread's history against what its client saw of each turn."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import orjson

from bench.openai_standin import Reply
from bench.soak_clients import Soak, Turn

LOST = "error:run_lost"  # a rejoin's end when the run's claim is gone and its log has no end


def check_thread(soak: Soak, turns: list[Turn], messages: list[dict[str, Any]]) -> list[str]:
    """What a thread's history must be, given what its client saw of each turn.

    Messages come in turns: the user's message (id ``<requestId>:user``) and the reply, if any.
    Consecutive messages never share a role, except that a user message stands alone when its
    turn ended without one: an upstream error, or a cancel or a disconnect before any token.
    Refused requests (4xx/5xx before the stream) leave nothing. A completed turn holds exactly
    the final text; a cancelled one exactly the text of its final frame; an abandoned one, or
    one whose rejoin ended with ``run_lost`` (its client cannot know how the run ended), a
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
        elif turn.outcome.startswith("error") and turn.outcome != LOST and text is not None:
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


def _reply_kept(request_id: str, messages: list[dict[str, Any]], full: str) -> str:
    """Whether the thread holds the turn's whole reply, part of it or none."""
    ids = [str(m["id"]) for m in messages]
    at = ids.index(f"{request_id}:user") if f"{request_id}:user" in ids else None
    if at is None:
        return "no user message"
    reply = messages[at + 1] if at + 1 < len(messages) else None
    if reply is None or reply["role"] != "assistant":
        return "no reply"
    return "whole reply" if reply["content"] == full else "part of the reply"


async def check_histories(soak: Soak) -> tuple[int, list[str], Counter[str]]:
    threads: dict[str, list[Turn]] = {}
    for turn in soak.turns:
        threads.setdefault(turn.thread, []).append(turn)
    problems: list[str] = []
    lost: Counter[str] = Counter()
    limit = asyncio.Semaphore(16)
    full = "".join(Reply(token_count=soak.args.tokens).words())

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
            if turn.outcome == LOST:  # how the run really ended, as far as the thread tells
                lost[f"run_lost: {_reply_kept(turn.request_id, messages, full)}"] += 1

    async with httpx.AsyncClient(base_url=soak.url, timeout=30) as http:
        await asyncio.gather(*(one(http, t, turns) for t, turns in threads.items()))
    return len(threads), problems, lost
