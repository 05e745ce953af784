"""The access rule, held to every route: each operation of the app's route table that names a
thread, a run or a request, called as another user, is a 404, and the owner's thread is
untouched. A route added without the check fails this (shown with a route that skips it)."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI

from app import Settings, create_app
from app.api.deps import ServicesDep
from bench.openai_standin import OpenAIStandIn, Reply
from tests.identity.tokens import SECRET, hs256
from tests.support.live_server import serving
from tests.support.registries import chat_registry

ALICE = {"Authorization": f"Bearer {hs256('alice')}"}
BOB = {"Authorization": f"Bearer {hs256('bob')}"}
NAMED = ("{thread_id}", "{run_id}", "{request_id}")
# Operations the route table hides from the OpenAPI document (duplicates kept for old clients).
HIDDEN = [("get", "/threads/{thread_id}/history")]
# A body each operation accepts, so that what answers is the access check, not validation.
BODIES: dict[tuple[str, str], Any] = {
    ("patch", "/threads/{thread_id}"): {"metadata": {"k": "v"}},
    ("post", "/threads/{thread_id}/state"): {"values": {"messages": []}},
    ("post", "/threads/{thread_id}/state/checkpoint"): {"checkpoint": {}},
    ("post", "/threads/{thread_id}/history"): {},
    **{
        ("post", f"/threads/{{thread_id}}/runs{tail}"): {
            "assistant_id": "streaming-chat",
            "input": {"messages": [{"role": "user", "content": "hi"}]},
        }
        for tail in ("", "/stream", "/wait")
    },
}


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) of the route table naming a thread, a run or a request."""
    found = [
        (method, path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if any(name in path for name in NAMED)
    ]
    return sorted(set(found + HIDDEN))


async def _refusals(app: FastAPI, upstream: OpenAIStandIn) -> dict[str, tuple[int, str]]:
    """Alice makes a thread with a run in flight; every operation on them, as Bob, answers
    how? The answers that are not 404, by operation."""
    upstream.default = Reply(token_count=200, delay=0.05)  # Alice's run stays in flight
    with serving(app) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            made = await client.post("/threads", json={}, headers=ALICE)
            thread = made.json()["thread_id"]
            body = BODIES[("post", "/threads/{thread_id}/runs")]
            ran = await client.post(f"/threads/{thread}/runs", json=body, headers=ALICE)
            run = ran.json()["run_id"]
            ids = {"thread_id": thread, "run_id": run, "request_id": run, "checkpoint_id": "c1"}
            leaks: dict[str, tuple[int, str]] = {}
            for method, path in _operations(app):
                url = re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)
                json = BODIES.get((method, path))
                answer = await client.request(method, url, json=json, headers=BOB)
                if answer.status_code != 404:
                    leaks[f"{method.upper()} {path}"] = (answer.status_code, answer.text[:200])
            assert (await client.get(f"/threads/{thread}", headers=ALICE)).status_code == 200
            await client.post(f"/threads/{thread}/runs/{run}/cancel?wait=true", headers=ALICE)
    return leaks


def _app(tmp: Any, upstream: OpenAIStandIn) -> FastAPI:
    settings = Settings(
        _env_file=None,
        openai_api_key="test-key",
        openai_base_url=upstream.base_url,
        sqlite_path=tmp / "memory.sqlite",
        jwt_secret=SECRET,
    )
    return create_app(settings, registry=chat_registry())


async def test_every_route_naming_a_thread_run_or_request_refuses_another_user(
    upstream: OpenAIStandIn, tmp_path: Any
) -> None:
    """Bob gets 404 from every such operation of the route table, Alice keeps her thread."""
    app = _app(tmp_path, upstream)
    operations = _operations(app)

    leaks = await _refusals(app, upstream)

    assert len(operations) >= 20, operations
    assert leaks == {}


async def test_a_route_that_skips_the_access_check_is_caught(
    upstream: OpenAIStandIn, tmp_path: Any
) -> None:
    """The same walk over an app with one route that reads a thread without the rule names
    that route, and only it."""
    app = _app(tmp_path, upstream)

    @app.get("/threads/{thread_id}/unchecked")
    async def unchecked(thread_id: str, services: ServicesDep) -> dict[str, Any]:
        saved = await services.threads.latest(thread_id)  # no actor: the check is skipped
        return {"found": saved is not None}

    leaks = await _refusals(app, upstream)

    assert list(leaks) == ["GET /threads/{thread_id}/unchecked"]
    assert leaks["GET /threads/{thread_id}/unchecked"][0] == 200
