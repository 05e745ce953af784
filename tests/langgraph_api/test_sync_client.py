"""LangGraph's synchronous client (get_sync_client) through a small flow of its users'."""

from __future__ import annotations

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.errors import NotFoundError

from tests.langgraph_api.conftest import Offline
from tests.langgraph_api.support import (
    ANSWER_391,
    CALCULATION,
    TIMEOUT,
    events,
    kinds,
    of,
    said,
    tuples_text,
)


def test_sync_client_streams_reads_state_resumes_and_deletes(offline: Offline) -> None:
    """assistants, a thread, a streamed turn whose tokens make the saved reply, an interrupt
    answered through runs.wait, and the thread deleted."""
    url = offline(user_api_keys="alice-key:alice")
    with get_sync_client(url=url, api_key="alice-key", timeout=TIMEOUT) as lg:
        assert {a["name"] for a in lg.assistants.search(limit=100)} >= {
            "streaming-chat",
            "tool-agent",
        }
        thread_id = lg.threads.create(metadata={"client": "sync"})["thread_id"]
        parts = list(
            lg.runs.stream(
                thread_id,
                "tool-agent",
                input=said(CALCULATION),
                stream_mode=["messages-tuple", "values"],
            )
        )
        state = lg.threads.get_state(thread_id)
        stopped = lg.runs.wait(
            thread_id, "tool-agent", input=said("remember that the sync client works")
        )
        assert lg.threads.get(thread_id)["status"] == "interrupted"
        resumed = lg.runs.wait(thread_id, "tool-agent", command={"resume": "decline"})
        found = lg.threads.search(metadata={"client": "sync"})
        history = lg.threads.get_history(thread_id, limit=2)
        lg.threads.delete(thread_id)
        with pytest.raises(NotFoundError):
            lg.threads.get(thread_id)

    assert events(parts)[0] == "metadata"
    assert tuples_text(parts, node="agent") == ANSWER_391
    assert of(parts, "values")[-1] == state["values"]
    assert kinds(state["values"]["messages"])[-1] == ("ai", ANSWER_391)
    assert stopped["__interrupt__"][0]["value"]["action"] == "save_note"
    assert kinds(resumed["messages"])[-1] == (
        "ai",
        "The user declined: the note was not saved.",
    )
    assert resumed["notes"] == []
    assert [t["thread_id"] for t in found] == [thread_id]
    assert len(history) == 2
