"""Stream one reply from the agent server and print its tokens as they arrive.

    python examples/python/stream.py http://127.0.0.1:8000 "Tell me a story" [thread-id]

Set ``API_KEY`` in the environment for a server that needs credentials: a service key
(``API_KEYS``), a user key (``USER_API_KEYS``) or a JWT. ``USER_ID`` names who the turn is for
(a service key may name anyone; a user credential is its own user, so leave it unset). Needs
``httpx`` and ``httpx-sse``, which ``make run`` installs into ``.venv`` (the ``examples`` extra).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from typing import Any

import httpx
from httpx_sse import connect_sse


def stream(server_url: str, message: str, thread_id: str | None = None) -> int:
    key = os.environ.get("API_KEY")
    body: dict[str, Any] = {
        "requestId": uuid.uuid4().hex,
        "graphType": "streaming-chat",
        "message": {"content": message},
    }
    user = os.environ.get("USER_ID") or (None if key else "python-example")
    if user:
        body["userId"] = user
    if thread_id:
        body["threadId"] = thread_id
    # No read timeout: a reply may pause for a while; the server's pings keep the socket alive.
    timeout = httpx.Timeout(10.0, read=None)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with (
        httpx.Client(base_url=server_url, timeout=timeout, headers=headers) as client,
        connect_sse(client, "POST", "/stream", json=body) as source,
    ):
        if source.response.status_code != 200:
            # Refused before streaming: {"error": {"code", "message", "requestId"}}.
            source.response.read()
            error = source.response.json()["error"]
            status = source.response.status_code
            print(f"refused ({status}): {error['code']}: {error['message']}", file=sys.stderr)
            return 1
        for event in source.iter_sse():  # ": ping" comments are skipped by httpx-sse
            payload = event.json()
            if event.event == "stream_event" and payload.get("type") == "chunk":
                print(payload["content"], end="", flush=True)
            elif event.event == "final":
                print("\n\n" + json.dumps(payload["metadata"], indent=2), flush=True)
            elif event.event == "error":
                print(f"\nerror: {payload['code']}: {payload['message']}", file=sys.stderr)
                return 1
    return 0


def main() -> int:
    if len(sys.argv) not in (3, 4):
        print("usage: python stream.py <server-url> <message> [thread-id]", file=sys.stderr)
        return 2
    return stream(*sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
