"""LangGraph's JavaScript ``Client`` (@langchain/langgraph-sdk) against our LangGraph API: the
calls its users make, run by sdk_flows.mjs in Node, asserted on what it observed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from bench.openai_standin import OpenAIStandIn, Reply
from tests.conftest import ServerFactory
from tests.langgraph_js.conftest import ANSWER, TOKENS, Target
from tests.langgraph_js.node_project import run_node
from tests.support.registries import agent_registry

SCRIPT_TIMEOUT = 45  # sdk_flows.mjs prints what it saw so far, then exits
TIMEOUT = SCRIPT_TIMEOUT + 15


def sdk(target: Target, flow: str, *options: str, fails: bool = False) -> dict[str, Any]:
    """Run one flow of sdk_flows.mjs against ``target``; its observations as a dict."""
    ids = ["--chat", target.chat, "--agent", target.agent, "--timeout", str(SCRIPT_TIMEOUT)]
    result = run_node(["sdk_flows.mjs", "--url", target.url, *ids, *options, flow], TIMEOUT)
    try:
        observed: dict[str, Any] = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"sdk_flows.mjs printed no JSON: {result.stdout!r}\n{result.stderr}")
    if not fails and result.returncode != 0:
        pytest.fail(
            f"the JS client failed in flow {flow!r}: {json.dumps(observed.get('error'), indent=2)}"
            f"\nobserved so far: {json.dumps(observed.get(flow), indent=1)[:4000]}"
            f"\nstderr: {result.stderr[-2000:]}"
        )
    return observed


def streamed(tuples: list[dict[str, Any]], node: str | None = None) -> str:
    """The text of the AI message chunks of a messages-tuple stream (of one node if given)."""
    return "".join(
        t["text"]
        for t in tuples
        if t["type"] in ("AIMessageChunk", "ai") and (node is None or t["node"] == node)
    )


def wait_for(condition: Callable[[], bool], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def kinds(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["type"], m["text"]) for m in messages]


def test_assistants_by_graph_name(chat_server: Target) -> None:
    """assistants.search lists both graphs; get, getGraph and getSchemas answer for the chat
    graph, and (ours only: langgraph-api wants a UUID there) get takes the graph name."""
    seen = sdk(chat_server, "assistants")["assistants"]
    assert {chat_server.chat, chat_server.agent} <= {a["graph_id"] for a in seen["search"]}
    if not chat_server.reference:
        assert seen["get_by_name"]["graph_id"] == "streaming-chat", seen["get_by_name"]
    assert seen["get"]["graph_id"] == chat_server.chat
    assert "chat" in seen["graph"]["nodes"]
    assert {"input_schema", "state_schema"} <= set(seen["schemas"]["keys"])
    assert "messages" in seen["schemas"]["input_properties"]


def test_two_turns_stream_tokens_and_the_thread_keeps_both(
    chat_server: Target, upstream: OpenAIStandIn
) -> None:
    """messages-tuple tokens concatenate to the reply the state keeps; the second turn's model
    call carries the first; history grows; threads.search finds the thread by metadata."""
    seen = sdk(chat_server, "chat")["chat"]
    thread_id = seen["thread"]["thread_id"]
    turn1 = seen["turn1"]
    assert turn1["events"][0] == "metadata"
    assert set(turn1["events"][1:]) == {"messages"}
    # onRunCreated is fed from the Content-Location header: /threads/{id}/runs/{run_id}.
    assert turn1["created"] == {"run_id": turn1["metadata"]["run_id"], "thread_id": thread_id}
    assert streamed(turn1["tuples"], node="chat") == ANSWER
    assert {t["type"] for t in turn1["tuples"]} == {"AIMessageChunk"}

    state1 = seen["state1"]
    assert kinds(state1["messages"]) == [("human", "Hello there, first turn"), ("ai", ANSWER)]
    # The streamed chunks and the stored message are one message: useStream merges them by id.
    assert {t["id"] for t in turn1["tuples"]} == {state1["messages"][1]["id"]}
    assert state1["next"] == []

    state2 = seen["state2"]
    assert kinds(state2["messages"]) == [
        ("human", "Hello there, first turn"),
        ("ai", ANSWER),
        ("human", "And a second turn"),
        ("ai", ANSWER),
    ]
    assert streamed(seen["turn2"]["tuples"]) == ANSWER
    assert [m["role"] for m in upstream.seen[-1].messages][-3:] == ["user", "assistant", "user"]

    history1, history2 = seen["history1"], seen["history2"]
    assert len(history2) > len(history1) >= 1
    assert history2[0]["checkpoint_id"] == state2["checkpoint_id"]  # newest first
    assert len(history2[0]["messages"]) == 4
    assert any(h["checkpoint_id"] == state1["checkpoint_id"] for h in history2)
    assert kinds(seen["state_at_turn1"]["messages"]) == kinds(state1["messages"])

    assert seen["thread_after"] == {"status": "idle", "values_messages": 4}
    assert seen["search"] == [{"thread_id": thread_id, "status": "idle"}]


def test_threads_search_by_graph_id_finds_a_thread_that_ran_the_graph(chat_server: Target) -> None:
    """A run records its graph in the thread's metadata, so threads.search({metadata:
    {graph_id}}) finds the thread, as agent-chat-ui lists threads for a graph-name assistant."""
    seen = sdk(chat_server, "chat")["chat"]
    assert seen["search_by_graph_id"], seen["thread_metadata"]


def test_thread_update_update_state_and_delete(chat_server: Target) -> None:
    """threads.update merges metadata; updateState as the chat node appends a message in a new
    checkpoint that getState shows; after threads.delete the thread is a 404."""
    seen = sdk(chat_server, "threads")["threads"]
    for metadata in (seen["updated_metadata"], seen["fetched_metadata"]):
        assert metadata["stage"] == "two" and metadata["keep"] == "yes", metadata
    before, after = seen["before"], seen["after"]
    assert kinds(before["messages"]) == [("human", "a turn to edit"), ("ai", ANSWER)]
    assert kinds(after["messages"]) == [*kinds(before["messages"]), ("ai", "An edited answer.")]
    assert seen["update_state"]["checkpoint_id"] == after["checkpoint_id"]
    assert after["parent_checkpoint_id"] == before["checkpoint_id"]
    assert seen["history"] == 4  # the turn's three checkpoints, then the edit
    assert seen["after_delete"] == {"status": 404}


def test_values_updates_and_several_stream_modes_then_wait(chat_server: Target) -> None:
    """Stream mode "values" streams whole states, "updates" the chat node's write, several
    modes interleave on one stream, and runs.wait answers the final values."""
    seen = sdk(chat_server, "modes")["modes"]
    values = seen["values"]
    assert values["events"][0] == "metadata"
    assert set(values["events"][1:]) == {"values"}
    assert kinds(values["snapshots"][0]) == [("human", "values turn")]
    assert kinds(values["snapshots"][-1]) == [("human", "values turn"), ("ai", ANSWER)]

    updates = seen["updates"]
    assert updates["events"] == ["metadata", "updates"]
    assert updates["nodes"] == [["chat"]]
    assert kinds(updates["written"]) == [("ai", ANSWER)]

    several = seen["several"]
    assert {"metadata", "messages", "values", "updates"} == set(several["events"])
    assert several["events"][-1] == "values"
    assert streamed(several["tuples"]) == ANSWER
    assert kinds(several["last_values"])[-2:] == [("human", "several modes turn"), ("ai", ANSWER)]

    assert kinds(seen["wait"]["messages"])[-2:] == [("human", "wait turn"), ("ai", ANSWER)]
    assert len(seen["state"]["messages"]) == 8


def test_background_runs_join_join_stream_and_replay(
    chat_server: Target, upstream: OpenAIStandIn
) -> None:
    """runs.create then runs.join gives the final values; joinStream follows a running run, and
    Last-Event-ID -1 replays a finished one from its start."""
    # The second run waits before its first token, so joinStream is there from the start.
    upstream.enqueue(Reply(tokens=TOKENS), Reply(tokens=TOKENS, first_delay=0.5, delay=0.02))
    seen = sdk(chat_server, "background")["background"]
    assert seen["created"]["thread_id"] == seen["thread_id"]
    assert seen["created"]["status"] in ("pending", "running")
    assert kinds(seen["joined"]["messages"]) == [("human", "background one"), ("ai", ANSWER)]

    joined = seen["join_stream"]
    assert "messages" in joined["events"]
    assert joined["events"][-1] == "values"
    assert streamed(joined["tuples"]) == ANSWER
    assert kinds(joined["last_values"])[-2:] == [("human", "background two"), ("ai", ANSWER)]

    replay = seen["replay"]
    assert replay["events"] == joined["events"]
    assert streamed(replay["tuples"]) == ANSWER
    assert len(seen["state"]["messages"]) == 4


def test_cancel_stops_a_streaming_background_run(
    chat_server: Target, upstream: OpenAIStandIn
) -> None:
    """runs.cancel during the tokens ends the joined stream early, closes the model's stream,
    and the thread takes the next run."""
    upstream.enqueue(Reply(token_count=60, delay=0.1), Reply(tokens=["Fine."]))
    seen = sdk(chat_server, "cancel")["cancel"]
    assert seen["tokens_before_cancel"] == 2
    assert 2 <= len([t for t in seen["stream"]["tuples"] if t["text"]]) < 60
    # The stand-in notices the close when it writes its next token.
    assert wait_for(lambda: upstream.seen[0].closed_by_client), "the model call went on"
    assert upstream.seen[0].tokens_sent < 60
    assert seen["thread_status"] != "busy"
    assert kinds(seen["after"])[0] == ("human", "tell me a long story")
    assert kinds(seen["after"])[-2:] == [("human", "after cancel"), ("ai", "Fine.")]


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ("approve", "Saved the note 'the demo is on Friday'."),
        ("decline", "The user declined: the note was not saved."),
    ],
    ids=["approve", "decline"],
)
def test_tool_agent_interrupts_for_save_note_and_resumes(
    offline_server: Target, answer: str, outcome: str
) -> None:
    """The calculator turn answers 391; save_note interrupts with a value naming the note (in
    the stream, the state's tasks and interrupts); command.resume finishes the turn."""
    seen = sdk(offline_server, "agent", "--resume", answer)["agent"]
    calculator = seen["calculator"]
    assert calculator["nodes"] == [["agent"], ["tools"], ["agent"]]
    assert streamed(calculator["tuples"], node="agent") == "17*23 = 391."
    assert kinds(seen["state_after_calculator"]["messages"])[-2:] == [
        ("tool", "391"),
        ("ai", "17*23 = 391."),
    ]

    note = seen["note"]
    (interrupt,) = note["interrupt_from_updates"]
    assert interrupt["value"]["action"] == "save_note"
    assert interrupt["value"]["note"]["text"] == "the demo is on Friday"
    assert "the demo is on Friday" in interrupt["value"]["question"]
    assert interrupt["id"]
    assert note["interrupt_from_values"] == [interrupt]

    state = seen["state_interrupted"]
    assert state["next"] == ["tools"]
    assert state["tasks"] == [{"name": "tools", "interrupts": [interrupt]}]
    assert state["interrupts"] == [interrupt]
    assert state["messages"][-1]["tool_calls"] == [
        {"name": "save_note", "args": interrupt["value"]["note"]}
    ]
    assert seen["thread_status_interrupted"] == "interrupted"

    resumed = seen["resumed"]
    assert resumed["nodes"] == [["tools"], ["agent"]]
    assert kinds(resumed["last_values"])[-2:] == [("tool", outcome), ("ai", outcome)]
    assert streamed(resumed["tuples"], node="agent") == outcome
    final = seen["state_final"]
    assert final["next"] == [] and final["interrupts"] == [] and final["tasks"] == []
    assert seen["thread_status_final"] == "idle"


def test_stateless_runs_stream_and_wait(chat_server: Target) -> None:
    """runs.stream and runs.wait with no thread answer one turn each."""
    seen = sdk(chat_server, "stateless")["stateless"]
    assert streamed(seen["stream"]["tuples"]) == ANSWER
    assert kinds(seen["stream"]["last_values"]) == [("human", "stateless stream"), ("ai", ANSWER)]
    assert kinds(seen["wait"]["messages"]) == [("human", "stateless wait"), ("ai", ANSWER)]


def test_api_key_goes_as_a_bearer_header(make_server: ServerFactory) -> None:
    """With API_KEYS set, the client's Authorization header is let in and its absence is 401."""
    target = Target(make_server(registry=agent_registry(), api_keys="js-key").url)
    assert sdk(target, "assistants", "--api-key", "js-key")["assistants"]["get"]["assistant_id"]
    refused = sdk(target, "assistants", fails=True)
    assert refused["error"]["status"] == 401, refused["error"]
