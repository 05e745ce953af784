"""What ``bench.stream`` prints: one markdown table of the streaming rows, one of the agent rows
(figures per turn rather than per token), then the issues' targets, each with the figure this run
reached."""

from __future__ import annotations

from typing import Any

from bench.load import percentile
from bench.scenarios import Row

HEADER = (
    "| system | scenario | ok | TTFT p50 ms | TTFT p99 ms | gap p99 ms | total p50 ms | tok/s "
    "| CPU us/tok | peak RSS MB | wire B/tok | client CPU % | errors |"
)
AGENT_HEADER = (
    "| system | scenario | turns ok | turn p50 ms | turn p99 ms | CPU ms/turn | peak RSS MB "
    "| tool steps seen | stand-in requests user/tool | client CPU % | errors |"
)
# Gap, TTFT (both p99, seconds) and errors within which a server "holds" its streams.
HOLD_GAP, HOLD_TTFT = 0.1, 0.25
# Issue 12: ours spends at least this many times less CPU per tool-agent turn than langgraph dev.
AGENT_CPU_RATIO = 2.0
# Issue 15: on the LangGraph server API (lg50), at least this many times less CPU per token.
THREADS_CPU_RATIO = 2.5
# Issue 20: on lg50 too, at least this many times less CPU per token than Aegra.
AEGRA_CPU_RATIO = 3.0


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f}" if value < 1 else f"{value * 1000:.0f}"


def _num(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def row_figures(row: Row) -> dict[str, float | None]:
    r = row.result or {}
    tokens = r.get("tokens") or 0
    wall = r.get("wall") or 0.0
    cpu = r.get("cpu")
    return {
        "ttft_p50": percentile(r.get("ttft", []), 50),
        "ttft_p99": percentile(r.get("ttft", []), 99),
        "gap_p99": percentile(r.get("max_gap", []), 99),
        "total_p50": percentile(r.get("total", []), 50),
        "tok_s": tokens / wall if wall else None,
        "cpu_us": cpu / tokens * 1e6 if cpu is not None and tokens else None,
        "rss_mb": r["rss_peak"] / 2**20 if r.get("rss_peak") else None,
        "bytes": r["wire_bytes"] / tokens if r.get("wire_bytes") and tokens else None,
        "client_pct": r.get("client_cpu", 0.0) / wall * 100 if wall else None,
    }


def agent_figures(row: Row) -> dict[str, float | None]:
    """Per turn: a turn is one finished stream, so CPU is the server's over the scenario divided
    by the turns that finished (errors make it look dearer, never cheaper)."""
    r = row.result or {}
    ok, wall, cpu = r.get("ok") or 0, r.get("wall") or 0.0, r.get("cpu")
    return {
        "total_p50": percentile(r.get("total", []), 50),
        "total_p99": percentile(r.get("total", []), 99),
        "cpu_ms": cpu / ok * 1000 if cpu is not None and ok else None,
        "rss_mb": r["rss_peak"] / 2**20 if r.get("rss_peak") else None,
        "client_pct": r.get("client_cpu", 0.0) / wall * 100 if wall else None,
    }


def _errors(result: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(result["errors"].items())) or "0"


def table(rows: list[Row]) -> str:
    """The streaming rows, or nothing; the agent rows go to ``agent_table``."""
    if all(row.scenario.agent for row in rows):
        return ""
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for row in rows:
        if row.scenario.agent:
            continue
        name = f"{row.system.label}"
        what = row.scenario.describe()
        if row.result is None:
            lines.append(f"| {name} | {what} | failed: {row.failure} |" + " |" * 10)
            continue
        f = row_figures(row)
        r = row.result
        errors = _errors(r)
        lines.append(
            f"| {name} | {what} | {r['ok']}/{r['streams']} | {_ms(f['ttft_p50'])} "
            f"| {_ms(f['ttft_p99'])} | {_ms(f['gap_p99'])} | {_ms(f['total_p50'])} "
            f"| {_num(f['tok_s'])} | {_num(f['cpu_us'])} | {_num(f['rss_mb'])} "
            f"| {_num(f['bytes'], 1) if row.system.is_server else '-'} "
            f"| {_num(f['client_pct'])} | {errors} |"
        )
    return "\n".join(lines)


def agent_table(rows: list[Row]) -> str:
    """The agent rows, or nothing. The stand-in's requests say whether every turn ran its tool:
    one whose last message is the user's and one whose last message is the tool's result."""
    agent = [row for row in rows if row.scenario.agent]
    if not agent:
        return ""
    lines = [AGENT_HEADER, "|" + "---|" * AGENT_HEADER.count(" | ") + "---|"]
    for row in agent:
        name, what = row.system.label, row.scenario.describe()
        if row.result is None:
            lines.append(f"| {name} | {what} | failed: {row.failure} |" + " |" * 8)
            continue
        f, r = agent_figures(row), row.result
        roles = r.get("upstream")
        upstream = f"{roles.get('user', 0)}/{roles.get('tool', 0)}" if roles is not None else "-"
        lines.append(
            f"| {name} | {what} | {r['ok']}/{r['streams']} | {_ms(f['total_p50'])} "
            f"| {_ms(f['total_p99'])} | {_num(f['cpu_ms'], 1)} | {_num(f['rss_mb'])} "
            f"| {r.get('steps', 0)} | {upstream} | {_num(f['client_pct'])} | {_errors(r)} |"
        )
    return "\n".join(lines)


def _ratio(this: float | None, base: float | None) -> str:
    if this is None or not base:
        return "-"
    change = (this / base - 1) * 100
    return f"{this / base:.2f} ({0.0 if abs(change) < 0.5 else change:+.0f}%)"  # no "-0%"


def versus(rows: list[Row]) -> str:
    """Each baseline twin's rows beside the rows of the system it mirrors, scenario by scenario:
    CPU per token, peak RSS and p99 gap, this tree's and the baseline's, with the ratios."""
    lines = [
        "| system | scenario | CPU us/tok | baseline CPU us/tok | CPU ratio | peak RSS MB "
        "| baseline peak RSS MB | RSS ratio | gap p99 ms | baseline gap p99 ms | errors (base) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for base in rows:
        if base.system.mirrors is None or base.result is None or base.scenario.agent:
            continue
        this = _find(rows, base.system.mirrors, base.scenario.name)
        if this is None or this.result is None:
            continue
        f, b = row_figures(this), row_figures(base)
        errors = sum(this.result["errors"].values()), sum(base.result["errors"].values())
        lines.append(
            f"| {this.system.name} vs @{base.system.revision} | {base.scenario.name} "
            f"| {_num(f['cpu_us'])} | {_num(b['cpu_us'])} | {_ratio(f['cpu_us'], b['cpu_us'])} "
            f"| {_num(f['rss_mb'])} | {_num(b['rss_mb'])} | {_ratio(f['rss_mb'], b['rss_mb'])} "
            f"| {_ms(f['gap_p99'])} | {_ms(b['gap_p99'])} | {errors[0]} ({errors[1]}) |"
        )
    return "\n".join(lines) if len(lines) > 2 else ""


def _ran(rows: list[Row], system: str) -> list[Row]:
    return [row for row in rows if row.system.name == system and row.result]


def _find(rows: list[Row], system: str, scenario: str) -> Row | None:
    return next((row for row in _ran(rows, system) if row.scenario.name == scenario), None)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "NOT met")


def _hold(row: Row) -> tuple[str, bool]:
    """How ``row`` held its streams (gap, TTFT, errors), and whether within the hold limits."""
    f, errors = row_figures(row), sum((row.result or {})["errors"].values())
    gap, ttft = f["gap_p99"], f["ttft_p99"]
    ok = gap is not None and ttft is not None and gap <= HOLD_GAP and ttft <= HOLD_TTFT
    return f"gap {_ms(gap)} ms, TTFT {_ms(ttft)} ms, {errors} errors", ok and errors == 0


def targets(rows: list[Row]) -> str:
    """The issue's targets, each with the figure this run reached.

    They are about one server process, so they are read off ``ours`` (WORKERS=1); a run that
    measured only ``ours-w2`` gets them too, labelled as such.
    """
    ours = "ours" if _ran(rows, "ours") else "ours-w2"
    if not _ran(rows, ours):
        return ""
    note = "" if ours == "ours" else " [WORKERS=2]"
    out = []

    c50, lg50 = _find(rows, ours, "c50"), _find(rows, "langgraph", "c50")
    cpu = row_figures(c50)["cpu_us"] if c50 else None
    if cpu is not None:
        lg_cpu = row_figures(lg50)["cpu_us"] if lg50 else None
        ratio = lg_cpu / cpu if lg_cpu else None
        ok = cpu <= 200 and (ratio is None or ratio >= 2.5)
        text = f"{cpu:.0f} us/token" + (f", {ratio:.1f}x less than langgraph dev" if ratio else "")
        out.append(
            f"- CPU per token at 50 streams <= 200 us and >= 2.5x below langgraph dev{note}: "
            f"{text}: {_verdict(ok)}; stretch <= 100 us: {_verdict(cpu <= 100)}"
        )

    h150 = _find(rows, ours, "h150")
    beyond = [
        (row, how)
        for name, how in (("h200", "200 held, steady arrivals"), ("c200", "200 started at once"))
        if (row := _find(rows, ours, name))
    ]
    if h150 or beyond:
        rate = f"{1000 / h150.scenario.delay_ms:g}" if h150 else "50"
        if h150:
            figures, ok = _hold(h150)
            reached = f"{figures}: {_verdict(ok)}"
        else:
            reached = "h150 not run: n/a"
        out.append(
            f"- one process holds >= 150 concurrent {rate}-token/s streams (150 held, steady "
            f"arrivals) with p99 gap <= 100 ms, p99 TTFT <= 250 ms, no errors{note}: {reached}"
        )
        for row, how in beyond:
            figures, ok = _hold(row)
            within = "within" if ok else "beyond"
            out.append(
                f"  - for information, not the target: {how}: {figures} ({within} the same limits)"
            )

    rss = [
        (name, row_figures(row)["rss_mb"])
        for name in ("c200", "h200")
        if (row := _find(rows, ours, name))
    ]
    rss_mb = [(name, mb) for name, mb in rss if mb is not None]
    if rss_mb:
        shown = ", ".join(f"{name} {mb:.0f}" for name, mb in rss_mb)
        worst = max(mb for _, mb in rss_mb)
        out.append(
            f"- peak RSS at 200 streams <= 150 MB{note}: {shown} MB: {_verdict(worst <= 150)}"
        )

    client = _model_client(rows)
    if client:
        out.append(client)

    agent = _agent_target(rows, ours, note)
    if agent:
        out.append(agent)

    lg_api = _threads_target(rows, ours, note)
    if lg_api:
        out.append(lg_api)

    against_aegra = _aegra_target(rows, ours, note)
    if against_aegra:
        out.append(against_aegra)

    single, floor = _find(rows, ours, "single"), _find(rows, "astream", "single")
    ours1 = row_figures(single)["ttft_p50"] if single else None
    floor1 = row_figures(floor)["ttft_p50"] if floor else None
    if ours1 is not None and floor1 is not None:
        added = (ours1 - floor1) * 1000
        out.append(
            f"- added TTFT over in-process ChatOpenAI.astream at concurrency 1 <= 3 ms p50{note}: "
            f"{added:.1f} ms ({_ms(ours1)} vs {_ms(floor1)} ms): {_verdict(added <= 3)}"
        )

    wire = [
        (row.scenario.name, row_figures(row)["bytes"])
        for row in _ran(rows, ours)
        # A turn's steps and final frame are not per-token costs; the LangGraph API's frames are
        # its own wire format, not /stream's.
        if not (row.scenario.agent or row.scenario.threads)
    ]
    wire_b = [(name, value) for name, value in wire if value is not None]
    if wire_b:
        shown = ", ".join(f"{name} {value:.1f}" for name, value in wire_b)
        worst = max(value for _, value in wire_b)
        out.append(
            f"- wire bytes per token <= 60 (socket bytes: headers, HTTP chunk framing, the "
            f"final frame){note}: {shown}: {_verdict(worst <= 60)}"
        )
    scale = [
        (label, row)
        for label, name in (("WORKERS=1", "ours-redis"), ("WORKERS=2", "ours-w2"))
        if (row := _find(rows, name, "h150"))
    ]
    if scale:
        parts = []
        for label, row in scale:
            figures, ok = _hold(row)
            parts.append(f"{label}: {figures} ({'within' if ok else 'beyond'} the limits)")
        out.append("- scale-out, Redis memory, 150 streams held: " + "; ".join(parts))
    return "\n".join(out)


def _model_client(rows: list[Row]) -> str | None:
    """Issue 10's target, read off ``ours`` (which runs the default client, the fast one) at c50
    against its baseline twin, with the stock client's figure beside it."""
    fast, base, stock = (_find(rows, name, "c50") for name in ("ours", "ours@base", "ours-stock"))
    cpu = row_figures(fast)["cpu_us"] if fast else None
    base_cpu = row_figures(base)["cpu_us"] if base else None
    stock_cpu = row_figures(stock)["cpu_us"] if stock else None
    if cpu is None or (base_cpu is None and stock_cpu is None):
        return None
    if base and base_cpu:
        change = (cpu / base_cpu - 1) * 100
        reached = (
            f"{cpu:.0f} us/token vs {base_cpu:.0f} at {base.system.revision} ({change:+.1f}%): "
            f"{_verdict(cpu <= base_cpu * 1.05)}"
        )
    else:
        reached = f"{cpu:.0f} us/token, no baseline figure (--baseline REF): n/a"
    if stock_cpu is not None:
        reached += f"; stock client (MODEL_CLIENT=stock): {stock_cpu:.0f} us/token"
        reached += f" ({stock_cpu / cpu:.2f}x the fast client)"
    return (
        "- issue 10: CPU per token at c50, MODEL_CLIENT=fast, within 5% of the baseline "
        f"(at most 5% above it): {reached}"
    )


def _agent_target(rows: list[Row], ours: str, note: str) -> str | None:
    """Issue 12's target: CPU per tool-agent turn at 50 concurrent turns, ours against
    ``langgraph dev``, both read off the same scenario of the same run; with, for each, the
    turns, the tool results the stand-in saw (one per turn when every turn ran its tool) and the
    errors.

    The CPU of a turn cut by the time limit is in the total but the turn is not counted, which
    makes a system look dearer. For ours that only errs against us; for langgraph dev the verdict
    then takes its CPU over every turn started, a lower bound of its cost per turn."""
    mine, theirs = _find(rows, ours, "agent50"), _find(rows, "langgraph", "agent50")
    if mine is None:
        return None
    cpu = agent_figures(mine)["cpu_ms"]
    lg_cpu = agent_figures(theirs)["cpu_ms"] if theirs else None
    head = (
        "- issue 12: tool-agent CPU per turn at 50 concurrent turns, ours vs langgraph dev "
        f"(at least {AGENT_CPU_RATIO:g}x less){note}: "
    )
    if cpu is None or lg_cpu is None or theirs is None or theirs.result is None:
        why = "langgraph dev not run" if theirs is None else "no turn finished on one of them"
        return head + f"{_num(cpu, 1)} ms vs {_num(lg_cpu, 1)} ms ({why}): n/a"
    r = theirs.result
    shown = f"{lg_cpu:.1f} ms"
    if r["ok"] < r["streams"]:
        lg_cpu = r["cpu"] / r["streams"] * 1000
        shown = f"at least {lg_cpu:.1f} ms (its CPU over all {r['streams']} turns started)"
    ratio = lg_cpu / cpu
    checks = "; ".join(
        f"{label} {_turns(row)}" for label, row in (("ours", mine), ("langgraph dev", theirs))
    )
    return (
        head + f"{cpu:.1f} ms vs {shown} ({ratio:.1f}x): "
        f"{_verdict(ratio >= AGENT_CPU_RATIO)} ({checks})"
    )


def _threads_target(rows: list[Row], ours: str, note: str) -> str | None:
    """Issue 15's target: CPU per token at 50 streams on the LangGraph server API (``lg50``: a
    thread created, then a messages-tuple run streamed on it), ours against ``langgraph dev`` in
    the same run; with ours on Redis beside it when it ran, and each one's streams, errors and
    ``POST /threads`` p50."""
    mine, theirs = _find(rows, ours, "lg50"), _find(rows, "langgraph", "lg50")
    redis_row = _find(rows, "ours-redis", "lg50") if ours == "ours" else None
    if mine is None:
        return None
    cpu = row_figures(mine)["cpu_us"]
    lg_cpu = row_figures(theirs)["cpu_us"] if theirs else None
    head = (
        "- issue 15: CPU per token at 50 streams on the LangGraph API (POST /threads, then "
        f"runs/stream messages-tuple), ours vs langgraph dev (at least {THREADS_CPU_RATIO:g}x "
        f"less){note}: "
    )
    shown = [("ours", mine), ("ours-redis", redis_row), ("langgraph dev", theirs)]
    checks = "; ".join(f"{label} {_streams(row)}" for label, row in shown if row is not None)
    if cpu is None or lg_cpu is None:
        why = "langgraph dev not run" if theirs is None else "no token from one of them"
        return head + f"{_num(cpu)} vs {_num(lg_cpu)} us/token ({why}): n/a ({checks})"
    ratio = lg_cpu / cpu
    redis_cpu = row_figures(redis_row)["cpu_us"] if redis_row else None
    beside = f"; Redis memory {redis_cpu:.0f} us/token" if redis_cpu is not None else ""
    errors = sum((mine.result or {})["errors"].values())
    ok = ratio >= THREADS_CPU_RATIO and errors == 0
    return (
        head + f"{cpu:.0f} vs {lg_cpu:.0f} us/token ({ratio:.1f}x){beside}: {_verdict(ok)} "
        f"({checks})"
    )


def _aegra_target(rows: list[Row], ours: str, note: str) -> str | None:
    """Issue 20's target: CPU per token on ``lg50``, ours against Aegra in the same run. Aegra's
    figure is its server process alone, as for the others; its PostgreSQL's CPU over the same
    scenario is given beside it (ours keeps SQLite, and langgraph dev its memory, in process)."""
    mine = _find(rows, ours, "lg50")
    if mine is None:
        return None
    theirs = _find(rows, "aegra", "lg50")
    head = (
        "- issue 20: CPU per token at 50 streams on the LangGraph API (lg50), ours vs Aegra "
        f"(at least {AEGRA_CPU_RATIO:g}x less){note}: "
    )
    cpu = row_figures(mine)["cpu_us"]
    aegra_cpu = row_figures(theirs)["cpu_us"] if theirs else None
    if theirs is None:
        failed = next(
            (r.failure for r in rows if r.system.name == "aegra" and r.scenario.name == "lg50"),
            None,
        )
        why = f"Aegra failed: {failed}" if failed else "Aegra not run"
        return head + f"{_num(cpu)} us/token ({why}): n/a"
    checks = f"ours {_streams(mine)}; Aegra {_streams(theirs)}"
    database = _per_token(theirs, "database_cpu")
    if database is not None:
        checks += f"; Aegra's PostgreSQL beside it {database:.0f} us/token, not counted"
    if cpu is None or aegra_cpu is None:
        return (
            head + f"{_num(cpu)} vs {_num(aegra_cpu)} us/token (no token from one): n/a ({checks})"
        )
    ratio = aegra_cpu / cpu
    errors = sum((mine.result or {})["errors"].values())
    ok = ratio >= AEGRA_CPU_RATIO and errors == 0
    return head + f"{cpu:.0f} vs {aegra_cpu:.0f} us/token ({ratio:.1f}x): {_verdict(ok)} ({checks})"


def _per_token(row: Row, key: str) -> float | None:
    r = row.result or {}
    seconds, tokens = r.get(key), r.get("tokens")
    return seconds / tokens * 1e6 if seconds is not None and tokens else None


def _streams(row: Row) -> str:
    r = row.result or {}
    errors = _errors(r) if r else "-"
    setup = percentile(r.get("setup", []), 50)
    return (
        f"{r.get('ok', 0)}/{r.get('streams', 0)} streams, errors {errors}, "
        f"POST /threads p50 {_ms(setup)} ms"
    )


def _turns(row: Row) -> str:
    r = row.result or {}
    roles = r.get("upstream") or {}
    errors = sum(r.get("errors", {}).values())
    return (
        f"{r.get('ok', 0)}/{r.get('streams', 0)} turns, {roles.get('tool', '?')} tool results "
        f"upstream, {errors} errors"
    )
