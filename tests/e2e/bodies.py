"""Request bodies shared by the end-to-end tests."""

from __future__ import annotations

from typing import Any

SEED_STREAM: dict[str, Any] = {
    "requestId": "req-001",
    "threadId": "thread-001",
    "userId": "user-001",
    "agentId": "agent-001",
    "graphType": "streaming-chat",
    "graphSettings": {"graphType": "streaming-chat::1.0.0"},
    "message": {"content": "Tell me a story about a space explorer"},
}

SEED_GENERATE: dict[str, Any] = {**SEED_STREAM, "requestId": "req-002"}


def turn(content: str, *, thread: str = "t-1", user: str = "u-1", **extra: Any) -> dict[str, Any]:
    """A minimal body on ``thread`` for ``user``."""
    return {"threadId": thread, "userId": user, "message": {"content": content}, **extra}
