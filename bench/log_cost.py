"""What the run log costs (issue 13): CPU per token with it and without it, and its Redis memory.

With Redis, every run's frames go to a Redis Stream, ``{prefix:r:<requestId>}:log``, kept
``RUN_LOG_TTL_SECONDS`` after the run ends. Without the log is the tree before it: the
``ours-redis@base`` twin of ``bench.stream --baseline REF``. After each scenario on a Redis system,
:func:`log_memory` reads the logs that scenario added from the redis-server the bench started:
``MEMORY USAGE`` (exact, ``SAMPLES 0``) of a sample of its finished runs, and their frame counts.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

import redis

from bench.systems import LOG_PREFIX

if TYPE_CHECKING:  # bench.scenarios measures with this module: no import back at run time
    from bench.scenarios import Row

SAMPLE = 100  # logs per scenario whose memory is read
TARGET = 0.15  # issue 13: the log adds at most this much CPU per token at c50, Redis mode
LOGGED = ("xadd", "pexpire")  # a log write: XADD per frame, then one PEXPIRE
_SETTLE = 3.0  # seconds for the last runs' final writes to land (a client sees them first)


def log_memory(url: str, seen: set[bytes]) -> dict[str, Any]:
    """The logs in Redis at ``url`` that are not in ``seen`` (which gains them): how many runs,
    how many finished (their last frame ``final`` or ``error``), and, over a sample of the
    finished runs of the commonest length (the scenario's replies, not its short warm-up ones),
    the mean bytes and frames per run; ``keys`` 0 for a tree that keeps no log."""
    client = redis.Redis.from_url(url)
    try:
        # A run's log is {prefix:r:<id>}:log since the keys of a run share a hash tag (issue
        # 22); {prefix}:log:<id> before, which a --baseline tree may still write.
        patterns = (f"{{{LOG_PREFIX}:r:*}}:log", f"{LOG_PREFIX}:log:*")
        logs = {k for p in patterns for k in client.scan_iter(match=p, count=1000)}
        new = sorted(logs - seen)
        seen.update(new)
        deadline = time.monotonic() + _SETTLE
        while True:
            frames = _frames_if_finished(client, new)
            if all(n is not None for n in frames.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        finished = {key: n for key, n in frames.items() if n is not None}
        out: dict[str, Any] = {"keys": len(new), "finished": len(finished)}
        if not finished:
            return out
        length, runs = Counter(finished.values()).most_common(1)[0]
        alike = [key for key, n in finished.items() if n == length]
        sample = random.Random(0).sample(alike, min(SAMPLE, len(alike)))
        pipe = client.pipeline(transaction=False)
        for key in sample:
            pipe.memory_usage(key, samples=0)
            pipe.pttl(key)
        replies = pipe.execute()
        sizes = [int(n) for n in replies[0::2] if n is not None]
        ttls = [ms / 1000 for ms in replies[1::2] if ms is not None and ms > 0]
        out.update(
            runs=runs,
            frames=length,
            sampled=len(sizes),
            bytes=sum(sizes) / len(sizes) if sizes else None,
            ttl=max(ttls) if ttls else None,
        )
        return out
    finally:
        client.close()


def redis_counters(url: str) -> dict[str, int]:
    """redis-server's command counts so far: all of them, and the run log's (XADD, PEXPIRE)."""
    client = redis.Redis.from_url(url)
    try:
        stats: Any = client.info("commandstats")
        total: Any = client.info("stats")
    finally:
        client.close()
    counts = {name: int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in LOGGED}
    return {"all": int(total["total_commands_processed"]), **counts}


def _frames_if_finished(client: redis.Redis, keys: list[bytes]) -> dict[bytes, int | None]:
    """Each log's frame count (its length less the owner entry), or None while it has no
    terminal frame yet."""
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.xlen(key)
        pipe.xrevrange(key, count=1)
    replies = pipe.execute()
    out: dict[bytes, int | None] = {}
    for key, length, last in zip(keys, replies[0::2], replies[1::2], strict=True):
        name = last[0][1].get(b"n") if last else None
        out[key] = length - 1 if name in (b"final", b"error") else None
    return out


def _find(rows: list[Row], system: str, scenario: str) -> Row | None:
    return next(
        (r for r in rows if r.system.name == system and r.scenario.name == scenario and r.result),
        None,
    )


def _cpu_us(row: Row, key: str = "cpu") -> float | None:
    result = row.result or {}
    cpu, tokens = result.get(key), result.get("tokens")
    return cpu / tokens * 1e6 if cpu is not None and tokens else None


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def log_table(rows: list[Row]) -> str:
    """Every Redis row: redis-server's CPU per token beside the server's, and what the run log
    holds after the scenario."""
    lines = [
        "| system | scenario | server CPU us/tok | redis-server CPU us/tok | Redis commands/tok "
        "| frames per log write | logs added | finished | runs alike (frames) | sampled "
        "| bytes/run | bytes/frame | TTL left s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        log, result = row.log, row.result
        if log is None or result is None:
            continue
        calls, tokens = result.get("redis_commands", {}), result.get("tokens")
        per_token = calls["all"] / tokens if calls and tokens else None
        per_write = calls["xadd"] / calls["pexpire"] if calls.get("pexpire") else None
        size = log.get("bytes")
        per_frame = size / log["frames"] if size is not None and log.get("frames") else None
        alike = f"{log['runs']} ({log['frames']})" if "runs" in log else "-"
        lines.append(
            f"| {row.system.label} | {row.scenario.name} | {_num(_cpu_us(row))} "
            f"| {_num(_cpu_us(row, 'redis_cpu'))} | {_num(per_token, 2)} "
            f"| {_num(per_write if calls.get('xadd') else None, 1)} | {log['keys']} "
            f"| {log['finished']} | {alike} | {log.get('sampled', '-')} | {_num(size)} "
            f"| {_num(per_frame, 1)} | {_num(log.get('ttl'))} |"
        )
    return "\n".join(lines) if len(lines) > 2 else ""


def log_targets(rows: list[Row]) -> str:
    """Issue 13's lines: the CPU target at c50, then the memory figure (reported, no target)."""
    out = []
    this, base = _find(rows, "ours-redis", "c50"), _find(rows, "ours-redis@base", "c50")
    cpu = _cpu_us(this) if this else None
    base_cpu = _cpu_us(base) if base else None
    if this is not None and base is not None and cpu is not None and base_cpu:
        change = cpu / base_cpu - 1
        verdict = "met" if change <= TARGET else "NOT met"
        redis_cpu, base_redis = _cpu_us(this, "redis_cpu"), _cpu_us(base, "redis_cpu")
        beside = ""
        if redis_cpu is not None and base_redis is not None:
            beside = f"; redis-server beside it: {redis_cpu:.0f} vs {base_redis:.0f} us/token"
        pairs = [
            f"{a / b - 1:+.0%}"
            for a, b in zip(this.rounds, base.rounds, strict=False)
            if a is not None and b
        ]
        if len(pairs) > 1:
            beside += f"; round by round: {', '.join(pairs)}"
        out.append(
            f"- issue 13: CPU per token at c50, Redis mode, with the log vs without "
            f"(@{base.system.revision}): {cpu:.0f} vs {base_cpu:.0f} us/token ({change:+.1%}): "
            f"{verdict} (target: at most +{TARGET:.0%}){beside}"
        )
    elif cpu is not None:
        out.append(
            "- issue 13: CPU per token at c50, Redis mode, with the log vs without: "
            f"{cpu:.0f} us/token, no figure without the log (--baseline REF, REF before the "
            "log): n/a"
        )
    memory = [
        (row.scenario.name, row.log)
        for row in rows
        if row.system.name == "ours-redis" and row.log and row.log.get("bytes")
    ]
    if memory:
        parts = [
            f"{name}: {log['bytes']:,.0f} bytes/run ({log['frames']} frames, "
            f"{log['bytes'] / log['frames']:.0f} bytes/frame; {log['sampled']} of "
            f"{log['runs']} runs)"
            for name, log in memory
        ]
        held = memory[0][1]["bytes"] * 600 / 2**20
        out.append(
            "- issue 13: Redis memory per finished run in the log (reported; each is kept "
            f"RUN_LOG_TTL_SECONDS, 600 by default, after its run ends, so one run a second "
            f"holds {held:.1f} MiB of {memory[0][0]} logs): {'; '.join(parts)}"
        )
    return "\n".join(out)
