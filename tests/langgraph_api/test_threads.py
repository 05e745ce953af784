"""Threads through LangGraph's Python client: create, get, update, search, count, delete."""

from __future__ import annotations

import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError

from tests.langgraph_api.support import said


async def test_create_with_an_id_then_if_exists_raise_or_do_nothing(lg: LangGraphClient) -> None:
    """A thread made with an id is found by it; making it again is 409, or with do_nothing
    answers the existing thread unchanged."""
    made = await lg.threads.create(thread_id="t-create", metadata={"team": "a"})
    assert made["thread_id"] == "t-create"
    assert made["status"] == "idle"
    assert made["metadata"]["team"] == "a"
    assert made["values"] == {}

    with pytest.raises(ConflictError):
        await lg.threads.create(thread_id="t-create", metadata={"team": "b"})
    again = await lg.threads.create(
        thread_id="t-create", metadata={"team": "b"}, if_exists="do_nothing"
    )
    assert again["created_at"] == made["created_at"]
    assert again["metadata"]["team"] == "a"
    assert (await lg.threads.get("t-create"))["metadata"]["team"] == "a"


async def test_get_and_update_metadata_merge(lg: LangGraphClient) -> None:
    """threads.update merges into the metadata; get shows the merge and the run's values."""
    thread = await lg.threads.create(metadata={"team": "a", "stage": 1})
    thread_id = thread["thread_id"]
    await lg.runs.wait(thread_id, "streaming-chat", input=said("hello"))
    updated = await lg.threads.update(thread_id, metadata={"stage": 2, "extra": True})
    assert updated["metadata"]["team"] == "a"
    assert (updated["metadata"]["stage"], updated["metadata"]["extra"]) == (2, True)

    got = await lg.threads.get(thread_id)
    assert got["metadata"]["stage"] == 2
    assert got["status"] == "idle"
    assert [m["type"] for m in got["values"]["messages"]] == ["human", "ai"]
    assert got["updated_at"] >= got["created_at"]
    with pytest.raises(NotFoundError):
        await lg.threads.get("no-such-thread")


async def test_search_by_metadata_and_status_and_count(lg: LangGraphClient) -> None:
    """Search and count filter by metadata and by status; an interrupted thread is found as
    interrupted and not as idle."""
    idle = (await lg.threads.create(metadata={"team": "a"}))["thread_id"]
    other = (await lg.threads.create(metadata={"team": "b"}))["thread_id"]
    waiting = (await lg.threads.create(metadata={"team": "a"}))["thread_id"]
    await lg.runs.wait(waiting, "tool-agent", input=said("remember that the demo is on Friday"))

    team_a = await lg.threads.search(metadata={"team": "a"})
    assert {t["thread_id"] for t in team_a} == {idle, waiting}
    assert [t["thread_id"] for t in await lg.threads.search(metadata={"team": "b"})] == [other]
    interrupted = await lg.threads.search(status="interrupted")
    assert [t["thread_id"] for t in interrupted] == [waiting]
    assert interrupted[0]["interrupts"]
    assert {t["thread_id"] for t in await lg.threads.search(status="idle")} == {idle, other}
    assert await lg.threads.search(status="busy") == []
    assert await lg.threads.count() == 3
    assert await lg.threads.count(metadata={"team": "a"}) == 2
    assert await lg.threads.count(status="interrupted") == 1
    page = await lg.threads.search(limit=2)
    assert len(page) == 2
    rest = await lg.threads.search(limit=2, offset=2)
    assert len(rest) == 1
    assert {t["thread_id"] for t in page + rest} == {idle, other, waiting}


async def test_delete_removes_the_thread_its_state_and_its_runs(lg: LangGraphClient) -> None:
    """After threads.delete the thread, its state and its runs are 404, search omits it, and
    deleting it again is 404."""
    thread_id = (await lg.threads.create())["thread_id"]
    await lg.runs.wait(thread_id, "streaming-chat", input=said("hello"))
    await lg.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        await lg.threads.get(thread_id)
    with pytest.raises(NotFoundError):
        await lg.threads.get_state(thread_id)
    with pytest.raises(NotFoundError):
        await lg.runs.list(thread_id)
    assert await lg.threads.search() == []
    with pytest.raises(NotFoundError):
        await lg.threads.delete(thread_id)
