"""Access tokens for ``POST /start``'s ``streamUrl``: what a plain ``EventSource`` carries, as it
cannot send an ``Authorization`` header. A token names one request and one user, expires, and
is an HMAC under the deployment's stream secret (shared by every replica through the claims
store), so any replica accepts another's."""

from __future__ import annotations

import hmac
import json
import time

# How long POST /start's streamUrl may be used without a credential, in seconds.
ACCESS_TTL = 3600.0


def stream_token(secret: bytes, request_id: str, user_id: str, ttl: float) -> str:
    """A capability to read one run's stream as its owner, for clients (EventSource) that
    cannot send an Authorization header: ``<expiry>.<hmac>``."""
    expires = int(time.time() + ttl)
    return f"{expires}.{_sign(secret, request_id, user_id, expires)}"


def check_stream_token(secret: bytes, token: str, request_id: str, user_id: str) -> bool:
    expires_text, _, signature = token.partition(".")
    try:
        expires = int(expires_text)
    except ValueError:
        return False
    if expires < time.time():
        return False
    return hmac.compare_digest(signature, _sign(secret, request_id, user_id, expires))


def _sign(secret: bytes, request_id: str, user_id: str, expires: int) -> str:
    message = json.dumps([request_id, user_id, expires]).encode()
    return hmac.new(secret, message, "sha256").hexdigest()
