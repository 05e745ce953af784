"""A thread's state through LangGraph's Python client: the latest, at a checkpoint, its
history, an update as a node, and an interrupt answered with a command; on SQLite and Redis."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import get_client

from tests.langgraph_api.conftest import Offline
from tests.langgraph_api.support import TIMEOUT, collect, kinds, of, said

NOTE = "remember that the demo is on Friday"


async def test_state_checkpoints_and_history(offline: Offline, memory: dict[str, Any]) -> None:
    """Two turns: the latest state holds both; the state at the first turn's checkpoint holds
    one; history is newest first, bounded by limit, and ``before`` pages back."""
    async with get_client(url=offline(**memory), api_key=None, timeout=TIMEOUT) as lg:
        thread_id = (await lg.threads.create())["thread_id"]
        await lg.runs.wait(thread_id, "streaming-chat", input=said("first"))
        first = await lg.threads.get_state(thread_id)
        await lg.runs.wait(thread_id, "streaming-chat", input=said("second"))
        latest = await lg.threads.get_state(thread_id)
        at_first = await lg.threads.get_state(thread_id, checkpoint=first["checkpoint"])
        history = await lg.threads.get_history(thread_id, limit=3)
        everything = await lg.threads.get_history(thread_id, limit=100)
        older = await lg.threads.get_history(thread_id, limit=2, before=history[0]["checkpoint"])

    assert [m["content"] for m in latest["values"]["messages"] if m["type"] == "human"] == [
        "first",
        "second",
    ]
    assert latest["next"] == [] and latest["tasks"] == []
    assert latest["checkpoint"]["thread_id"] == thread_id
    assert latest["parent_checkpoint"]["checkpoint_id"]
    assert at_first["values"] == first["values"]
    assert at_first["checkpoint"]["checkpoint_id"] == first["checkpoint"]["checkpoint_id"]
    assert len(at_first["values"]["messages"]) == 2

    assert len(history) == 3
    assert history[0]["checkpoint"] == latest["checkpoint"]
    assert history[0]["values"] == latest["values"]
    assert [h["checkpoint"]["checkpoint_id"] for h in older] == [
        h["checkpoint"]["checkpoint_id"] for h in history[1:3]
    ]
    stamps = [h["created_at"] for h in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert first["checkpoint"]["checkpoint_id"] in {
        h["checkpoint"]["checkpoint_id"] for h in everything
    }
    # The oldest checkpoint is the thread's start, before the first input reached the state.
    assert everything[-1]["values"] == {"messages": []}


async def test_update_state_as_a_node_is_seen_by_the_next_run(
    offline: Offline, memory: dict[str, Any]
) -> None:
    """update_state(as_node="chat") writes a checkpoint of its own; the next run reads the
    thread with the added message in it."""
    async with get_client(url=offline(**memory), api_key=None, timeout=TIMEOUT) as lg:
        thread_id = (await lg.threads.create())["thread_id"]
        await lg.runs.wait(thread_id, "streaming-chat", input=said("first"))
        written = await lg.threads.update_state(
            thread_id,
            {"messages": [{"role": "user", "content": "a message added by hand"}]},
            as_node="chat",
        )
        updated = await lg.threads.get_state(thread_id)
        output = await lg.runs.wait(thread_id, "streaming-chat", input=said("third"))

    assert written["checkpoint"]["checkpoint_id"] == updated["checkpoint"]["checkpoint_id"]
    assert kinds(updated["values"]["messages"])[-1] == ("human", "a message added by hand")
    assert updated["next"] == []
    assert updated["metadata"]["source"] == "update"
    humans = [m["content"] for m in output["messages"] if m["type"] == "human"]
    assert humans == ["first", "a message added by hand", "third"]
    # The offline model counts the thread's user messages: it saw the one added by hand.
    assert "This is turn 3 of this thread" in output["messages"][-1]["content"]


async def test_interrupt_then_resume_with_a_command(
    offline: Offline, memory: dict[str, Any]
) -> None:
    """save_note stops the run on an interrupt (in the stream, the state and the thread, whose
    status is interrupted); command resume "approve" saves the note and the thread is idle."""
    async with get_client(url=offline(**memory), api_key=None, timeout=TIMEOUT) as lg:
        thread_id = (await lg.threads.create())["thread_id"]
        stopped = await collect(
            lg.runs.stream(
                thread_id, "tool-agent", input=said(NOTE), stream_mode=["values", "updates"]
            )
        )
        waiting = await lg.threads.get_state(thread_id)
        thread = await lg.threads.get(thread_id)
        found = await lg.threads.search(status="interrupted")
        resumed = await collect(
            lg.runs.stream(
                thread_id,
                "tool-agent",
                command={"resume": "approve"},
                stream_mode=["values", "updates"],
            )
        )
        final = await lg.threads.get_state(thread_id)
        after = await lg.threads.get(thread_id)

    (asked,) = [u["__interrupt__"] for u in of(stopped, "updates") if "__interrupt__" in u]
    (interrupt,) = asked
    assert interrupt["value"]["action"] == "save_note"
    assert interrupt["value"]["note"]["text"] == "the demo is on Friday"
    assert interrupt["id"]
    assert waiting["next"] == ["tools"]
    assert waiting["interrupts"] == [interrupt]
    assert [t["interrupts"] for t in waiting["tasks"]] == [[interrupt]]
    assert waiting["values"]["messages"][-1]["tool_calls"][0]["name"] == "save_note"
    assert thread["status"] == "interrupted"
    assert list(thread["interrupts"].values()) == [[interrupt]]
    assert [t["thread_id"] for t in found] == [thread_id]

    assert [list(u) for u in of(resumed, "updates")] == [["tools"], ["agent"]]
    assert final["values"]["notes"] == [{"type": "note", **interrupt["value"]["note"]}]
    assert kinds(final["values"]["messages"])[-2:] == [
        ("tool", "Saved the note 'the demo is on Friday'."),
        ("ai", "Saved the note 'the demo is on Friday'."),
    ]
    assert final["next"] == [] and final["interrupts"] == []
    assert after["status"] == "idle"
    assert after["interrupts"] == {}
