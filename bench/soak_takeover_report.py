"""The takeover soak's markdown summary: the kills, the requests, the checks with their verdicts,
each replica process's RSS, and the replicas' log records at WARNING and above."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.load import percentile
from bench.soak_report import _LOG_RECORD, _NUMBERS, RSS_TOLERANCE, _table
from bench.soak_takeover_checks import ATTEMPTS_RAN_OUT, Findings, Takeovers
from bench.soak_takeover_clients import Clients
from bench.soak_takeover_system import Generation, Replicas


@dataclass
class Measured:
    soak_start: float
    soak_end: float  # when the soak's last client was done
    baseline: dict[tuple[int, int], int] = field(default_factory=dict)  # (replica, number): KiB
    end: dict[tuple[int, int], int] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    model_calls: int = 0


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _rss_rows(
    replicas: Replicas, m: Measured, window: float
) -> tuple[list[tuple[Any, ...]], list[bool]]:
    """One row per process. A current process is checked against its warm baseline: after the
    warm-up's idle pause for a first process, else its reading ``window`` s before the soak's
    planned end, if it was ready by then."""
    args = replicas.args
    rows, verdicts = [], []
    window_start = m.soak_start + args.seconds - window
    for generations in replicas.generations:
        for g in generations:
            key = (g.replica, g.number)
            ref, what = _reference(g, m, window_start, window)
            end = m.end.get(key)
            peak = max((kib for _, kib in g.rss), default=0)
            verdict, ratio = "", "-"
            if end is not None and ref:
                ratio = f"{end / ref:.2f}"
                ok = end / ref <= 1 + RSS_TOLERANCE
                verdicts.append(ok)
                verdict = "ok" if ok else "FAIL"
            elif end is not None:
                what = f"not checked: ready less than {window:g} s before the soak's end"
            rows.append((
                f"replica {g.replica} #{g.number} (pid {g.process.pid})",
                f"{g.started - m.soak_start:+.0f} s",
                "-" if g.killed is None else f"{g.killed - m.soak_start:+.0f} s",
                what, "-" if not ref else f"{ref / 1024:.0f}", f"{peak / 1024:.0f}",
                "-" if end is None else f"{end / 1024:.0f}", ratio, verdict,
            ))  # fmt: skip
    return rows, verdicts


def _reference(
    g: Generation, m: Measured, window_start: float, window: float
) -> tuple[int | None, str]:
    if g.killed is not None:
        return None, "killed"
    if g.number == 0:
        return m.baseline.get((g.replica, 0)), "after the warm-up's idle pause"
    if g.ready is not None and g.ready <= window_start:
        return g.rss_at(window_start), f"{window:g} s before the soak's end (under load)"
    return None, ""


def report(
    clients: Clients,
    replicas: Replicas,
    m: Measured,
    streams: Findings,
    histories: Findings,
    taken: Takeovers,
    logs: dict[str, str],
) -> tuple[list[str], bool]:
    args = clients.args
    soak = [t for t in clients.turns if t.phase == "soak"]
    threads = len({t.thread for t in soak})
    lines = [
        f"Takeover soak: {len(soak)} streams over {args.seconds:g} s ({threads} threads of 1-3 "
        f"turns, at most {args.concurrency} at once) after a warm-up of {args.warmup_streams} "
        f"over {args.warmup:g} s; three replicas, each with REDIS_URL at its own node of a Redis "
        f"Cluster of three masters; RUN_CLAIM_TTL_SECONDS={args.claim_ttl:g}, "
        f"RUN_MAX_ATTEMPTS={args.max_attempts}, ON_DISCONNECT=continue; one replica kill -9ed "
        f"every {args.kill_every:g} s (round-robin) and started again on its port "
        f"{args.down:g} s later; stand-in {args.tokens} tokens every {args.delay_ms:g} ms.",
        "",
    ]
    rows: list[tuple[Any, ...]] = []
    for k, kill in enumerate(replicas.kills):
        delays = sorted(taken.by_kill.get(k, []))
        ran, reset = taken.in_flight.get(k, (0, 0))
        rows.append((
            k + 1, f"replica {kill.replica} (pid {kill.pid})",
            f"{kill.at - m.soak_start:.1f} s",
            "-" if kill.back is None else f"{kill.back - kill.at:.1f} s",
            f"{ran} / {reset}", len(delays),
            f"{_s(percentile(delays, 50))} / {_s(delays[-1] if delays else None)}",
        ))  # fmt: skip
    lines += _table("Kills", rows, ("#", "killed", "at", "ready again after",
                    "runs started there and in flight / their followers reset",
                    "resets read", "kill to reset p50 / max"))  # fmt: skip
    calls = sorted(clients.calls.items(), key=lambda kv: (kv[0][0], str(kv[0][1]), kv[0][2]))
    lines += _table("Requests (warm-up and soak)", [(e, s, c, n) for (e, s, c), n in calls],
                    ("endpoint", "status", "code", "count"))  # fmt: skip

    f, h = streams.figures, histories.figures
    outcomes = Counter(t.outcome for t in clients.turns)
    errors = Counter(t.terminal for t in clients.turns if t.terminal.startswith("error"))
    ran_out = sum(ATTEMPTS_RAN_OUT in t.error_message for t in clients.turns)
    hung = {o: n for o, n in outcomes.items() if o in ("hang", "gave-up", "not-started")}
    busy = Counter(bool(t.previous) for t in clients.turns for s in t.starts if "thread_busy" in s)
    delays = sorted(taken.delays)
    p99 = percentile(delays, 99)
    target = args.claim_ttl + 2
    rss_rows, rss_ok = _rss_rows(replicas, m, args.rss_window)
    unlogged = sorted(taken.reset_runs - taken.logged)
    unread = sorted(r for r in taken.logged - taken.reset_runs if r.startswith(f"r-{clients.run}"))
    verdicts = {
        "final": f["not final"] == 0,
        "errors": sum(errors.values()) == ran_out,
        "hangs": not hung,
        "texts": f["text mismatches"] == 0,
        "ids": f["ids not increasing"] == 0 and f["gaps"] == 0,
        "lost": h["lost"] == 0,
        "duplicated": h["duplicated"] == 0,
        "histories": h["other violations"] == 0,
        "kills": len(replicas.kills) > 0 and all(k.back is not None for k in replicas.kills),
        "takeover": bool(delays) and p99 is not None and p99 <= target,
        "rss": bool(rss_ok) and all(rss_ok),
    }
    ok_ = {k: "ok" if v else "FAIL" for k, v in verdicts.items()}
    checks: list[tuple[Any, ...]] = [
        ("streams (warm-up + soak) / ended with final", f"{len(clients.turns)} / "
         f"{outcomes['final']}", ok_["final"]),
        ("ended with a coded error, by code", dict(errors) or 0, ok_["errors"]),
        (f"of which run_lost because the attempts ran out ({ATTEMPTS_RAN_OUT}; allowed, "
         "expected 0)", ran_out, ""),
        ("without a terminal frame: deadline (hang) / gave up reconnecting / never started",
         f"{hung.get('hang', 0)} / {hung.get('gave-up', 0)} / {hung.get('not-started', 0)} "
         f"(deadline {args.turn_deadline:g} s)", ok_["hangs"]),
        ("chunks after the last reset other than final.text", f["text mismatches"],
         ok_["texts"]),
        ("frame ids not strictly increasing / gaps not at a reset's next million",
         f"{f['ids not increasing']} / {f['gaps']} (of {f['frames']} frames)", ok_["ids"]),
        ("409 thread_busy on a thread's first turn / on a later one (previous run still "
         "letting go)", f"{busy[False]} / {busy[True]}", ""),
        ("connections / reconnections (a kill broke one) / resets read",
         f"{f['connections']} / {f['reconnections']} / {f['resets']}", ""),
        ("threads / turns checked in their history", f"{h['threads']} / {h['turns']}", ""),
        ("runs lost (a turn without its user message or its answer)", h["lost"], ok_["lost"]),
        ("duplicated turns (a user message or an answer twice)", h["duplicated"],
         ok_["duplicated"]),
        ("other history violations", h["other violations"], ok_["histories"]),
        ("kills / all ready again", f"{len(replicas.kills)} / "
         f"{sum(k.back is not None for k in replicas.kills)}", ok_["kills"]),
        ("runs taken over (replicas' logs) / followed runs that read a reset",
         f"{len(taken.logged)} / {len(taken.reset_runs)}", ""),
        ("reset read but no takeover logged / takeover logged, reset never read",
         f"{len(unlogged)} / {len(unread)}", ""),
        ("model calls during the soak (stand-in) / soak turns + takeovers logged",
         f"{m.model_calls} / {len(soak)} + {len(taken.logged)}", ""),
        ("takeover time, kill to the reset read: p50 / p99 / max "
         f"(target p99 <= RUN_CLAIM_TTL_SECONDS + 2 s = {target:g} s)",
         f"{_s(percentile(delays, 50))} / {_s(p99)} / {_s(delays[-1] if delays else None)} "
         f"({len(delays)} resets)", ok_["takeover"]),
        (f"resets no kill in the last {args.kill_every:g} s explains", len(taken.stray), ""),
        ("RSS steady: current processes within 20% of their warm baseline",
         f"{sum(rss_ok)} of {len(rss_ok)} checked", ok_["rss"]),
        ("CPU during the soak: replicas (all processes) / this load generator / wall",
         f"{m.cpu.get('replicas', 0):.0f} / {m.cpu.get('client', 0):.0f} / "
         f"{m.cpu.get('wall', 0):.0f} s ({os.cpu_count()} cores)", ""),
    ]  # fmt: skip
    lines += _table("Checks", checks, ("check", "result", "verdict"))
    lines += _table("RSS by replica process (MiB)", rss_rows, (
        "process", "started", "killed", "baseline", "baseline MiB", "peak", "end (idle)",
        "end / baseline", "verdict"))  # fmt: skip
    problems = streams.problems + histories.problems + taken.stray
    problems += [f"reset read, no takeover in the logs: {r}" for r in unlogged[:5]]
    if problems:
        lines += ["**First violations**", "", *(f"- {p}" for p in problems[:25]), ""]
    logged: Counter[tuple[str, str, str]] = Counter()
    for name, log in logs.items():
        for line in log.splitlines():
            if match := _LOG_RECORD.match(line):
                level, logger, message = match.groups()
                logged[(name.partition("-")[0], level,
                        f"{logger}: {_NUMBERS.sub('N', message)[:70]}")] += 1  # fmt: skip
    if logged:
        lines += _table(
            "Log records at WARNING and above",
            [(r, level, msg.replace("|", "/"), n) for (r, level, msg), n in logged.most_common(15)],
            ("replica", "level", "logger: message (numbers as N, first 70 characters)", "count"),
        )
    return lines, all(verdicts.values())
