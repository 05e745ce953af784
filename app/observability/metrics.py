"""Prometheus metrics, one registry per app (tests build many apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class Metrics:
    """What the server counts; updated per request and per turn, never per token."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "agent_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.active_streams = Gauge(
            "agent_active_streams", "Streams open right now", registry=self.registry
        )
        self.ttft = Histogram(
            "agent_ttft_seconds",
            "Time from request to first token",
            ["graph"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.duration = Histogram(
            "agent_turn_duration_seconds",
            "Time from request to the end of the reply",
            ["graph", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tokens = Counter(
            "agent_tokens_streamed",
            "Token deltas sent to clients",
            ["graph"],
            registry=self.registry,
        )
        self.errors = Counter(
            "agent_errors", "Errors reported to clients, by code", ["code"], registry=self.registry
        )
        self.refusals = Counter(
            "agent_limit_refusals",
            "Requests refused by a per-user limit, by reason (rate, streams)",
            ["reason"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
