"""Who a LangGraph API request acts for: user credentials sent as the client's api_key see
only their own threads and runs; a service key sees everyone's, or one user's by X-User-Id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import AuthenticationError

from tests.langgraph_api.conftest import Offline
from tests.langgraph_api.support import TIMEOUT, collect, said, status_of

KEYS = {"api_keys": "svc-key", "user_api_keys": "alice-key:alice,bob-key:bob"}


def _client(url: str, key: str | None, **headers: str) -> LangGraphClient:
    return get_client(url=url, api_key=key, headers=headers or None, timeout=TIMEOUT)


async def _refused_as_missing(call: Callable[[], Awaitable[Any]]) -> None:
    """A 404 (the client raises NotFoundError, or httpx's error where it reconnects)."""
    with pytest.raises(httpx.HTTPStatusError) as refused:
        await call()
    assert status_of(refused.value) == 404


async def test_another_users_thread_and_runs_are_404(offline: Offline) -> None:
    """Bob cannot get, read, search, run on, join, rejoin, cancel, update or delete Alice's
    thread and run, while it runs or after: all 404, and her run finishes untouched."""
    url = offline(offline_token_delay_ms=30, **KEYS)
    async with _client(url, "alice-key") as alice, _client(url, "bob-key") as bob:
        thread_id = (await alice.threads.create(metadata={"who": "alice"}))["thread_id"]
        bobs = (await bob.threads.create(metadata={"who": "bob"}))["thread_id"]
        run = await alice.runs.create(thread_id, "streaming-chat", input=said("mine"))
        run_id = run["run_id"]

        await _refused_as_missing(lambda: bob.runs.cancel(thread_id, run_id))
        await _refused_as_missing(lambda: bob.runs.get(thread_id, run_id))
        await _refused_as_missing(lambda: bob.runs.join(thread_id, run_id))
        await _refused_as_missing(lambda: collect(bob.runs.join_stream(thread_id, run_id)))
        await _refused_as_missing(lambda: bob.runs.list(thread_id))
        output = await alice.runs.join(thread_id, run_id)

        await _refused_as_missing(lambda: bob.threads.get(thread_id))
        await _refused_as_missing(lambda: bob.threads.get_state(thread_id))
        await _refused_as_missing(lambda: bob.threads.get_history(thread_id))
        await _refused_as_missing(
            lambda: bob.threads.update_state(thread_id, {"messages": []}, as_node="chat")
        )
        await _refused_as_missing(lambda: bob.threads.update(thread_id, metadata={"x": 1}))
        await _refused_as_missing(
            lambda: collect(bob.runs.stream(thread_id, "streaming-chat", input=said("hi")))
        )
        await _refused_as_missing(
            lambda: bob.runs.wait(thread_id, "streaming-chat", input=said("hi"))
        )
        await _refused_as_missing(lambda: bob.threads.delete(thread_id))
        bob_sees = [t["thread_id"] for t in await bob.threads.search()]
        bob_counts = await bob.threads.count()
        alice_sees = [t["thread_id"] for t in await alice.threads.search()]
        state = await alice.threads.get_state(thread_id)

    assert [m["type"] for m in output["messages"]] == ["human", "ai"]
    assert (await _status(url, thread_id, run_id)) == "success"
    assert bob_sees == [bobs]
    assert bob_counts == 1
    assert alice_sees == [thread_id]
    assert [m["content"] for m in state["values"]["messages"] if m["type"] == "human"] == ["mine"]


async def _status(url: str, thread_id: str, run_id: str) -> str:
    async with _client(url, "svc-key") as service:
        return str((await service.runs.get(thread_id, run_id))["status"])


async def test_a_service_key_sees_everyone_or_the_user_it_names(offline: Offline) -> None:
    """The service key with no X-User-Id lists both users' threads; naming bob, only his;
    and a thread it makes for bob is bob's."""
    url = offline(**KEYS)
    async with _client(url, "alice-key") as alice, _client(url, "bob-key") as bob:
        alices = (await alice.threads.create())["thread_id"]
        bobs = (await bob.threads.create())["thread_id"]
    async with _client(url, "svc-key") as service:
        everyone = {t["thread_id"] for t in await service.threads.search()}
        assert (await service.threads.get(alices))["metadata"]["owner"] == "alice"
    async with _client(url, "svc-key", **{"X-User-Id": "bob"}) as as_bob:
        only_bob = [t["thread_id"] for t in await as_bob.threads.search()]
        await _refused_as_missing(lambda: as_bob.threads.get(alices))
        made = (await as_bob.threads.create())["thread_id"]
    async with _client(url, "bob-key") as bob:
        assert (await bob.threads.get(made))["thread_id"] == made

    assert everyone == {alices, bobs}
    assert only_bob == [bobs]


async def test_no_or_a_wrong_credential_is_401(offline: Offline) -> None:
    """With credentials configured, a client without an api_key, or with a wrong one, is
    refused with 401."""
    url = offline(**KEYS)
    async with _client(url, None) as anonymous, _client(url, "wrong-key") as wrong:
        with pytest.raises(AuthenticationError):
            await anonymous.threads.search()
        with pytest.raises(AuthenticationError):
            await wrong.assistants.search()
