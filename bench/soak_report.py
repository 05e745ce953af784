"""The soak's markdown summary: requests, turns, the checks with their verdicts, the rejoins'
frames, and the replicas' log records at WARNING and above."""

from __future__ import annotations

import os
import re
from collections import Counter
from typing import Any

from bench.soak_clients import OUTAGE_GRACE, Soak

RSS_TOLERANCE = 0.20
_LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d [\d:,]+ (WARNING|ERROR|CRITICAL) ([\w.]+): (.*)$")
_NUMBERS = re.compile(r"\d+")


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
    rejoined: tuple[dict[str, Any], list[str]],
    logs: dict[str, str],
) -> tuple[list[str], bool]:
    args = soak.args
    outage = (
        f"on a Redis Cluster (3 masters, a replica each), a master killed halfway, back "
        f"{args.outage:g} s later as a replica"
        if args.cluster
        else f"Redis down for {args.outage:g} s halfway"
    )
    lines = [
        f"Soak: {args.concurrency} clients for {args.seconds:g} s after a {args.warmup:g} s "
        f"warm-up; MULTITASK={args.multitask}; stand-in {args.tokens} tokens every "
        f"{args.delay_ms:g} ms; {outage}; rejoins on the server or on a second replica.",
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
        ("CPU during the soak: server / second replica / this load generator / wall",
         f"{soak.cpu['server']:.0f} / {soak.cpu['other']:.0f} / {soak.cpu['client']:.0f} / "
         f"{soak.cpu['wall']:.0f} s ({os.cpu_count()} cores)", ""),
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
    rows, rejoin_ok = _rejoins(soak, *rejoined, lost)
    verdicts.update(rejoin_ok)
    lines += _table("Rejoins (issue 13)", rows, ("check", "result", "verdict"))
    if rejoined[1]:
        lines += ["**First rejoin violations**", "", *(f"- {p}" for p in rejoined[1][:20]), ""]
    logged: Counter[tuple[str, str, str]] = Counter()
    for replica, log in logs.items():
        for line in log.splitlines():
            if match := _LOG_RECORD.match(line):
                level, logger, message = match.groups()
                logged[(replica, level, f"{logger}: {_NUMBERS.sub('N', message)[:70]}")] += 1
    if logged:
        lines += _table(
            "Log records at WARNING and above",
            [(r, level, m.replace("|", "/"), n) for (r, level, m), n in logged.most_common(12)],
            ("replica", "level", "logger: message (numbers as N, first 70 characters)", "count"),
        )
    return lines, all(verdicts.values())


def _rejoins(
    soak: Soak, figures: dict[str, Any], problems: list[str], lost: Counter[str]
) -> tuple[list[tuple[str, Any, str]], dict[str, bool]]:
    """The rejoin checks: no frame lost, read twice or out of order; every final text is the
    chunks read; every rejoin reached the end, but in the outage window."""
    outcomes = [t.outcome for t in soak.turns if t.behaviour == "rejoin"]
    dropped = len(soak.rejoins)
    refused = sum(o.startswith("refused") for o in outcomes)
    ok = {
        "rejoined": dropped > 0 or soak.args.concurrency < 10,
        "frames": not figures.get("lost") and not figures.get("duplicated")
        and not figures.get("out of order"),
        "texts": not figures.get("text mismatches"),
        "rejoins ended": not figures.get("incomplete outside it")
        and not figures.get("run_lost outside the outage"),
    }  # fmt: skip
    reasons = figures["reasons"]
    errors = ", ".join(f"{k[6:]} {n}" for k, n in sorted(figures.items()) if k.startswith("error "))
    rows = [
        ("rejoining clients' turns: dropped and rejoined / refused / ended first",
         f"{dropped} / {refused} / {len(outcomes) - dropped - refused}",
         "ok" if ok["rejoined"] else "FAIL"),
        ("rejoined on the same server / on the second replica (from the Redis log)",
         f"{figures.get('via same', 0)} / {figures.get('via other', 0)}", ""),
        ("rejoining connections: all / most for one turn", f"{figures.get('connections', 0)} / "
         f"{figures.get('most connections', 0)}", ""),
        ("frames checked (ids across the connections) / read after the drop",
         f"{figures.get('frames', 0)} / {figures.get('after drop', 0)}", ""),
        ("frames lost / duplicated / turns with ids out of order",
         f"{figures.get('lost', 0)} / {figures.get('duplicated', 0)} / "
         f"{figures.get('out of order', 0)}", "ok" if ok["frames"] else "FAIL"),
        ("final text other than the chunks read", figures.get("text mismatches", 0),
         "ok" if ok["texts"] else "FAIL"),
        ("ended with final / with an error frame, by code (run_lost only in the outage window) "
         "/ with neither: in the outage window, outside it", f"{figures.get('final', 0)} / "
         f"{errors or 0} / {figures.get('incomplete in the outage', 0)}, "
         f"{figures.get('incomplete outside it', 0)}", "ok" if ok["rejoins ended"] else "FAIL"),
        ("turns that ended with run_lost: what their thread holds", ", ".join(
         f"{k.partition(': ')[2]}: {n}" for k, n in sorted(lost.items())
         if k.startswith("run_lost")) or "-", ""),
        ("connections that ended early, by why", ", ".join(
         f"{r}: {n}" for r, n in reasons.most_common()) or "0", ""),
    ]  # fmt: skip
    return rows, ok
