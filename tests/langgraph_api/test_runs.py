"""Runs through LangGraph's Python client: wait, background runs and their records, stateless
runs, and the request fields this server refuses."""

from __future__ import annotations

import pytest
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError, UnprocessableEntityError

from tests.langgraph_api.support import (
    ANSWER_391,
    CALCULATION,
    collect,
    events,
    kinds,
    message_of,
    of,
    said,
    status_of,
    tuples_text,
)


async def test_wait_answers_the_final_values(lg: LangGraphClient) -> None:
    """runs.wait answers the state the run ended with; a second run sees the first turn."""
    thread_id = (await lg.threads.create())["thread_id"]
    first = await lg.runs.wait(thread_id, "streaming-chat", input=said("hello"))
    second = await lg.runs.wait(thread_id, "streaming-chat", input=said("again"))
    assert isinstance(first, dict) and isinstance(second, dict)
    assert [m["type"] for m in first["messages"]] == ["human", "ai"]
    assert "This is turn 1 of this thread" in first["messages"][-1]["content"]
    assert kinds(second["messages"])[:2] == kinds(first["messages"])
    assert "This is turn 2 of this thread" in second["messages"][-1]["content"]


async def test_wait_on_the_tool_agent_answers_391(lg: LangGraphClient) -> None:
    """A tool turn's output holds the call, its result and the answer."""
    thread_id = (await lg.threads.create())["thread_id"]
    output = await lg.runs.wait(thread_id, "tool-agent", input=said(CALCULATION))
    assert kinds(output["messages"])[-2:] == [("tool", "391"), ("ai", ANSWER_391)]


async def test_after_wait_the_thread_takes_updates_and_deletes_at_once(
    lg: LangGraphClient,
) -> None:
    """Once runs.wait has answered, the run is over: the thread's state can be updated and the
    thread deleted at once (five times, since a run that lingers after its answer shows only
    sometimes)."""
    for _ in range(5):
        thread_id = (await lg.threads.create())["thread_id"]
        await lg.runs.wait(thread_id, "streaming-chat", input=said("hello"))
        updated = await lg.threads.update_state(thread_id, {"messages": []}, as_node="chat")
        second = await lg.runs.wait(thread_id, "streaming-chat", input=said("again"))
        await lg.threads.delete(thread_id)
        with pytest.raises(NotFoundError):
            await lg.threads.get(thread_id)
        assert updated["checkpoint"]["checkpoint_id"]
        assert [m["content"] for m in second["messages"] if m["type"] == "human"] == [
            "hello",
            "again",
        ]


async def test_background_run_create_join_get_and_list(lg: LangGraphClient) -> None:
    """runs.create answers a pending or running run; join gives its output; get says it
    succeeded; list shows the thread's runs newest first."""
    thread_id = (await lg.threads.create())["thread_id"]
    run = await lg.runs.create(
        thread_id, "streaming-chat", input=said("background"), metadata={"tag": "one"}
    )
    assert run["thread_id"] == thread_id
    assert run["status"] in ("pending", "running")
    assert run["metadata"] == {"tag": "one"}
    joined = await lg.runs.join(thread_id, run["run_id"])
    assert kinds(joined["messages"])[0] == ("human", "background")
    assert joined["messages"][-1]["type"] == "ai"

    got = await lg.runs.get(thread_id, run["run_id"])
    assert got["status"] == "success"
    assert got["run_id"] == run["run_id"]
    second = await lg.runs.create(thread_id, "streaming-chat", input=said("two"))
    await lg.runs.join(thread_id, second["run_id"])
    listed = await lg.runs.list(thread_id)
    assert [r["run_id"] for r in listed] == [second["run_id"], run["run_id"]]
    assert {r["status"] for r in listed} == {"success"}
    assert [r["run_id"] for r in await lg.runs.list(thread_id, limit=1)] == [second["run_id"]]
    state = await lg.threads.get_state(thread_id)
    assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai"] * 2


async def test_stateless_stream_and_wait_leave_no_thread(lg: LangGraphClient) -> None:
    """runs.stream(None, ...) and runs.wait(None, ...) answer one turn each on a thread of
    their own, which no search finds afterwards."""
    parts = await collect(
        lg.runs.stream(
            None,
            "streaming-chat",
            input=said("stateless stream"),
            stream_mode=["messages-tuple", "values"],
        )
    )
    last = of(parts, "values")[-1]
    assert kinds(last["messages"])[0] == ("human", "stateless stream")
    assert tuples_text(parts) == last["messages"][-1]["content"]
    assert "This is turn 1 of this thread" in tuples_text(parts)

    waited = await lg.runs.wait(None, "tool-agent", input=said(CALCULATION))
    assert kinds(waited["messages"])[-1] == ("ai", ANSWER_391)
    assert await lg.threads.search() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("webhook", "http://127.0.0.1:9/hook"),
        ("feedback_keys", ["score"]),
        ("after_seconds", 5),
    ],
)
async def test_an_unimplemented_field_is_refused_by_name(
    lg: LangGraphClient, field: str, value: object
) -> None:
    """A run field this server does not implement is a 422 naming the field, and no run."""
    thread_id = (await lg.threads.create())["thread_id"]
    with pytest.raises(UnprocessableEntityError) as refused:
        await collect(
            lg.runs.stream(thread_id, "streaming-chat", input=said("hi"), **{field: value})
        )
    assert field in message_of(refused.value)
    if field != "feedback_keys":  # runs.create does not take it
        with pytest.raises(UnprocessableEntityError) as created:
            await lg.runs.create(thread_id, "streaming-chat", input=said("hi"), **{field: value})
        assert field in message_of(created.value)
    assert await lg.runs.list(thread_id) == []
    assert (await lg.threads.get(thread_id))["values"] == {}


async def test_an_unknown_field_is_refused(lg: LangGraphClient) -> None:
    """A field langgraph-api's document does not name is a 422 naming it."""
    thread_id = (await lg.threads.create())["thread_id"]
    with pytest.raises(Exception) as refused:
        await lg.http.post(
            f"/threads/{thread_id}/runs",
            json={"assistant_id": "streaming-chat", "input": said("hi"), "bogus_field": 1},
        )
    assert status_of(refused.value) == 422
    assert "bogus_field" in message_of(refused.value)


async def test_an_unknown_assistant_or_thread_is_404(lg: LangGraphClient) -> None:
    """A run on an assistant or a thread that does not exist is refused before streaming."""
    thread_id = (await lg.threads.create())["thread_id"]
    with pytest.raises(Exception) as unknown_assistant:
        await collect(lg.runs.stream(thread_id, "no-such-graph", input=said("hi")))
    assert status_of(unknown_assistant.value) == 404
    with pytest.raises(Exception) as unknown_thread:
        await lg.runs.wait("no-such-thread", "streaming-chat", input=said("hi"))
    assert status_of(unknown_thread.value) == 404
    created = await lg.runs.wait(
        "made-on-demand", "streaming-chat", input=said("hi"), if_not_exists="create"
    )
    assert [m["type"] for m in created["messages"]] == ["human", "ai"]
    assert (
        events(
            await collect(lg.runs.stream("made-on-demand", "streaming-chat", input=said("more")))
        )[0]
        == "metadata"
    )
