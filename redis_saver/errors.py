"""The saver's own exceptions: a server maps them onto its errors, the saver knows no server."""

from __future__ import annotations

__all__ = ["RedisSaverError", "RedisUnavailable", "StoredMessageMissing"]


class RedisSaverError(Exception):
    """Base of every error the saver raises about Redis itself."""


class RedisUnavailable(RedisSaverError):
    """Redis refused, dropped or timed out a call (or no pooled connection came free in
    time); nothing was half-written."""


class StoredMessageMissing(RedisSaverError):
    """A checkpoint's reference list names a message the thread no longer holds."""
