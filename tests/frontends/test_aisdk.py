"""POST /api/chat through the AI SDK's own client (ai 6 and ai 7: AbstractChat with
DefaultChatTransport as useChat uses them, and readUIMessageStream), over a real socket, against
the OpenAI stand-in. The client validates every chunk and its order: a test passes only if the
SDK built the message from our stream without an error."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bench.openai_standin import OpenAIStandIn, Reply, ToolCall
from tests.conftest import ServerFactory
from tests.frontends.graphs import frontend_registry
from tests.frontends.node_clients import ai_chat
from tests.support.live_server import LiveServer

NOTE = {"title": "Demo day", "text": "The demo is on Friday"}
VERSIONS = ["6", "7"]


@pytest.fixture
def server(make_server: ServerFactory) -> LiveServer:
    return make_server(registry=frontend_registry())


def _assistant(result: dict[str, Any], index: int = -1) -> dict[str, Any]:
    assert result["errors"] == [], result["errors"]
    message: dict[str, Any] = result["messages"][index]
    assert message["role"] == "assistant"
    return message


def _text(message: dict[str, Any]) -> str:
    return "".join(p["text"] for p in message["parts"] if p["type"] == "text")


def _tools(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in message["parts"] if p["type"].startswith("tool-")]


@pytest.mark.parametrize("version", VERSIONS)
def test_a_text_turn(server: LiveServer, upstream: OpenAIStandIn, version: str) -> None:
    upstream.enqueue(Reply(tokens=["Hello", " from", " the", " server."]))
    result = ai_chat(version, server.url, "text-turn", [{"send": "Hi"}])

    message = _assistant(result)
    assert _text(message) == "Hello from the server."
    assert [p["type"] for p in message["parts"]] == ["step-start", "text"]
    assert message["parts"][1]["state"] == "done"
    assert result["finishes"] == [{"finishReason": "stop", "isAbort": False, "isError": False}]
    metadata = message["metadata"]
    assert metadata["threadId"] == "text-turn"
    assert metadata["graphType"] == "streaming-chat::1.1.0"
    assert metadata["usage"]["totalTokens"] > 0
    assert metadata["timings"]["totalMs"] > 0
    assert result["messages"][0] == {
        "id": result["messages"][0]["id"],
        "role": "user",
        "parts": [{"type": "text", "text": "Hi"}],
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_a_tool_turn_and_parallel_calls(
    server: LiveServer, upstream: OpenAIStandIn, version: str
) -> None:
    """One step calls the calculator twice at once, the next answers: two steps, both calls
    with their input and output, in the order the client checks."""
    upstream.enqueue(
        Reply(
            tokens=["Let me compute."],
            tool_calls=[
                ToolCall("calculator", {"expression": "6*7"}, id="c1"),
                ToolCall("calculator", {"expression": "2+2"}, id="c2"),
            ],
        ),
        Reply(tokens=["42", " and ", "4."]),
    )
    result = ai_chat(
        version, server.url, "tools", [{"send": "Compute"}], body={"graphType": "tool-agent"}
    )

    message = _assistant(result)
    kinds = [p["type"] for p in message["parts"]]
    assert kinds == [
        "step-start",
        "text",
        "tool-calculator",
        "tool-calculator",
        "step-start",
        "text",
    ]
    calls = _tools(message)
    assert [(c["toolCallId"], c["state"], c["input"], c["output"]) for c in calls] == [
        ("c1", "output-available", {"expression": "6*7"}, "42"),
        ("c2", "output-available", {"expression": "2+2"}, "4"),
    ]
    assert _text(message) == "Let me compute.42 and 4."
    assert result["finishes"][0]["finishReason"] == "stop"


def test_a_tool_error_is_the_parts_error(server: LiveServer, upstream: OpenAIStandIn) -> None:
    upstream.enqueue(
        Reply(tokens=[], tool_calls=[ToolCall("calculator", {"expression": "1/0"}, id="bad")]),
        Reply(tokens=["That failed."]),
    )
    result = ai_chat(
        "7", server.url, "tool-error", [{"send": "x"}], body={"graphType": "tool-agent"}
    )

    (call,) = _tools(_assistant(result))
    assert call["state"] == "output-error"
    assert call["errorText"]
    assert "output" not in call or call["output"] is None


@pytest.mark.parametrize("version", VERSIONS)
def test_approve_then_decline(server: LiveServer, upstream: OpenAIStandIn, version: str) -> None:
    """save_note asks first: the part waits in approval-requested; addToolApprovalResponse
    (sent automatically) resumes the same message: approved, its output and a data-note part;
    declined, output-denied and nothing saved."""
    upstream.enqueue(
        Reply(tokens=["Saving."], tool_calls=[ToolCall("save_note", NOTE, id="n1")]),
        Reply(tokens=["Saved."]),
        Reply(tokens=[], tool_calls=[ToolCall("save_note", NOTE, id="n2")]),
        Reply(tokens=["Not saved."]),
    )
    steps = [
        {"send": "Note the demo"},
        {"approve": True},
        {"send": "Note it again"},
        {"approve": False},
    ]
    result = ai_chat(version, server.url, "approvals", steps, body={"graphType": "tool-agent"})

    assert [m["role"] for m in result["messages"]] == ["user", "assistant"] * 2
    approved = _assistant(result, 1)
    (call,) = _tools(approved)
    assert call["toolCallId"] == "n1"
    assert call["state"] == "output-available"
    assert call["approval"]["approved"] is True
    assert call["input"] == NOTE
    assert "Saved the note" in call["output"]
    notes = [p for p in approved["parts"] if p["type"] == "data-note"]
    assert notes == [{"type": "data-note", "data": {"type": "note", **NOTE}}]
    assert _text(approved) == "Saving.Saved."

    declined = _assistant(result, 3)
    (call,) = _tools(declined)
    assert (call["toolCallId"], call["state"]) == ("n2", "output-denied")
    assert _text(declined) == "Not saved."
    assert [f["finishReason"] for f in result["finishes"]] == [
        "tool-calls",
        "stop",
        "tool-calls",
        "stop",
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_an_interrupt_no_tool_raised_is_a_data_part_answered_by_resume(
    server: LiveServer, upstream: OpenAIStandIn, version: str
) -> None:
    """ask-city asks before any model call: a data-interrupt part; sendMessage with resume in
    the body continues the same message with the answer."""
    upstream.enqueue(Reply(tokens=["Sunny in Lyon."]))
    steps: list[dict[str, Any]] = [{"send": "Weather?"}, {"answer": "Lyon"}]
    result = ai_chat(version, server.url, "ask", steps, body={"graphType": "ask-city"})

    message = _assistant(result)
    (asked,) = [p for p in message["parts"] if p["type"] == "data-interrupt"]
    assert asked["data"]["value"] == {"question": "Which city?", "type": "input"}
    assert asked["id"] == asked["data"]["id"]
    assert [m["role"] for m in result["messages"]] == ["user", "assistant"]
    assert _text(message) == "Sunny in Lyon."
    assert message["metadata"]["interrupt"] is None
    assert upstream.seen[-1].messages[-1]["content"] == "The city is Lyon."


async def test_resume_after_a_dropped_connection_replays_the_whole_message(
    server: LiveServer, upstream: OpenAIStandIn
) -> None:
    """The client drops its stream part-way; the run goes on; useChat({resume: true}) gets the
    thread's run from its start, then live: the message holds every token once."""
    tokens = [f"w{i} " for i in range(40)]
    upstream.enqueue(Reply(tokens=tokens, delay=0.05))
    body = {
        "id": "dropped",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Go"}]}],
    }
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        async with client.stream("POST", "/api/chat", json=body) as response:
            assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
            seen = 0
            async for line in response.aiter_lines():
                seen += '"text-delta"' in line
                if seen == 3:
                    break  # the client goes away mid-stream

        result = ai_chat("7", server.url, "dropped", [{"resume": True}])
        message = _assistant(result)
        assert _text(message) == "".join(tokens)
        assert result["finishes"][-1]["finishReason"] == "stop"
        thread = (await client.get("/threads/dropped/messages")).json()
    assert [m["content"] for m in thread["messages"]] == ["Go", "".join(tokens)]


@pytest.mark.parametrize("version", VERSIONS)
async def test_resume_with_nothing_in_flight_is_204(server: LiveServer, version: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        idle = await client.get("/api/chat/idle/stream")
    assert idle.status_code == 204
    result = ai_chat(version, server.url, "idle", [{"resume": True}])
    assert result["messages"] == []
    assert result["errors"] == []
    assert result["status"] == "ready"


async def test_stop_ends_the_run_and_the_thread_goes_on(
    server: LiveServer, upstream: OpenAIStandIn
) -> None:
    upstream.enqueue(
        Reply(tokens=[f"t{i} " for i in range(200)], delay=0.02), Reply(tokens=["Next."])
    )
    result = ai_chat(
        "7", server.url, "stopped", [{"stopAfterText": "Long story"}, {"send": "More"}]
    )

    (stopped,) = result["raw"]
    assert stopped["stopStatus"] == 200
    assert stopped["stopBody"]["stopped"] is True
    partial = _assistant(result, 1)
    assert 0 < len(_text(partial)) < len("".join(f"t{i} " for i in range(200)))
    assert _text(_assistant(result, 3)) == "Next."
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        again = await client.post("/api/chat/stopped/stop")
        thread = (await client.get("/threads/stopped/messages")).json()
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "run_not_found"
    assert [m["role"] for m in thread["messages"]] == ["user", "assistant", "user", "assistant"]


def test_read_ui_message_stream_builds_the_same_message(
    server: LiveServer, upstream: OpenAIStandIn
) -> None:
    upstream.enqueue(Reply(tokens=["One", " two."]))
    result = ai_chat("6", server.url, "raw", [{"raw": "Count"}])

    (raw,) = result["raw"]
    assert _text(raw["message"]) == "One two."
    kinds = [c["type"] for c in raw["chunks"]]
    assert kinds[:3] == ["start", "start-step", "text-start"]
    assert kinds[-3:] == ["text-end", "finish-step", "finish"]


async def test_another_users_thread_is_refused(server: LiveServer, upstream: OpenAIStandIn) -> None:
    upstream.enqueue(Reply(tokens=["Mine."]))
    ai_chat("7", server.url, "alice-t", [{"send": "Hi"}], headers={"X-User-Id": "alice"})
    body = {
        "id": "alice-t",
        "messages": [{"id": "b1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}],
    }
    bob = {"X-User-Id": "bob"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        refused = await client.post("/api/chat", json=body, headers=bob)
        resumed = await client.get("/api/chat/alice-t/stream", headers=bob)
        stopped = await client.post("/api/chat/alice-t/stop", headers=bob)
    assert refused.status_code == 404
    assert refused.json()["error"]["code"] == "thread_not_found"
    assert "Mine" not in refused.text
    assert resumed.status_code == 404
    assert stopped.status_code == 404


def _body(**fields: Any) -> dict[str, Any]:
    user = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Hi"}]}
    return {"id": "bad", "messages": [user], **fields}


@pytest.mark.parametrize(
    ("body", "status", "code", "says"),
    [
        ({"id": "bad", "messages": []}, 422, "validation_error", "messages"),
        ({"messages": _body()["messages"]}, 422, "validation_error", "id"),
        (_body(id="no spaces allowed"), 422, "validation_error", "id"),
        (_body(messages="hi"), 422, "validation_error", "messages"),
        (_body(graphType="no-such-graph"), 404, "graph_not_found", "no-such-graph"),
        (_body(graphSettings={"temperature": "hot"}), 422, "validation_error", "temperature"),
        (_body(graphSettings={"graphType": 7}), 422, "validation_error", "graphType"),
        (_body(trigger="explode"), 422, "validation_error", "trigger"),
        (_body(resume="Lyon"), 422, "validation_error", "resume"),
        (
            _body(
                messages=[{"id": "s", "role": "system", "parts": [{"type": "text", "text": "x"}]}]
            ),
            422,
            "validation_error",
            "system",
        ),
        (
            _body(messages=[{"id": "u", "role": "user", "parts": [{"type": "text", "text": " "}]}]),
            422,
            "validation_error",
            "empty",
        ),
        (
            _body(messages=[{"id": "u", "role": "user", "parts": [{"type": "file", "url": "x"}]}]),
            422,
            "validation_error",
            "text",
        ),
        (
            _body(messages=[{"id": "a", "role": "assistant", "parts": []}]),
            409,
            "no_pending_interrupt",
            "no pending interrupt",
        ),
    ],
)
async def test_bad_bodies_get_a_json_error(
    server: LiveServer, body: dict[str, Any], status: int, code: str, says: str
) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        response = await client.post("/api/chat", json=body)
        not_json = await client.post(
            "/api/chat", content=b"hi", headers={"content-type": "text/plain"}
        )
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert says in error["message"] or says in str(error.get("details"))
    assert not_json.status_code == 415


@pytest.mark.parametrize("version", VERSIONS)
def test_a_failure_is_an_error_part_then_finish(
    server: LiveServer, upstream: OpenAIStandIn, version: str
) -> None:
    """The model provider fails mid-reply: the client gets an error (errorText) and the
    message ends; the thread takes the next turn."""
    upstream.enqueue(
        Reply(tokens=["Part", "ly", " cut", " off"], drop_after=2), Reply(tokens=["Fine."])
    )
    result = ai_chat(version, server.url, "failing", [{"send": "One"}, {"send": "Two"}])

    assert len(result["errors"]) == 1
    assert "model provider" in result["errors"][0].lower()
    assert result["finishes"][0]["isError"] is True
    assert _text(result["messages"][-1]) == "Fine."


def test_citations_are_sources(server: LiveServer, upstream: OpenAIStandIn) -> None:
    """search_docs' citations (a file, not a URL) are source-document parts."""
    upstream.enqueue(
        Reply(tokens=[], tool_calls=[ToolCall("search_docs", {"query": "redis cluster"})]),
        Reply(tokens=["See the README."]),
    )
    result = ai_chat("7", server.url, "cite", [{"send": "Docs?"}], body={"graphType": "tool-agent"})

    sources = [p for p in _assistant(result)["parts"] if p["type"].startswith("source-")]
    assert sources
    assert {p["type"] for p in sources} == {"source-document"}
    assert all(p["title"] and p["mediaType"] == "text/markdown" for p in sources)


async def test_resume_from_another_replica_reads_the_run_log(
    make_server: ServerFactory, upstream: OpenAIStandIn, redis_db: str
) -> None:
    """The run streams on replica A; useChat resumes on replica B, which replays it from the
    run log in Redis (its start part first) and follows it to the end."""
    first = make_server(registry=frontend_registry(), redis_url=redis_db)
    second = make_server(registry=frontend_registry(), redis_url=redis_db)
    tokens = [f"r{i} " for i in range(30)]
    upstream.enqueue(Reply(tokens=tokens, delay=0.05))
    body = {
        "id": "replicas",
        "messages": [{"id": "u1", "role": "user", "parts": [{"type": "text", "text": "Go"}]}],
    }
    async with httpx.AsyncClient(base_url=first.url, timeout=20) as client:
        async with client.stream("POST", "/api/chat", json=body) as response:
            async for line in response.aiter_lines():
                if '"text-delta"' in line:
                    break
        result = ai_chat("7", second.url, "replicas", [{"resume": True}])
    message = _assistant(result)
    assert _text(message) == "".join(tokens)
    assert message["metadata"]["threadId"] == "replicas"
    assert result["finishes"][-1]["finishReason"] == "stop"


async def test_resume_follows_a_run_another_api_started(
    server: LiveServer, upstream: OpenAIStandIn
) -> None:
    """A run started with the chat API's POST /start is resumed as a UI message stream."""
    tokens = [f"s{i} " for i in range(20)]
    upstream.enqueue(Reply(tokens=tokens, delay=0.03))
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        started = await client.post(
            "/start", json={"threadId": "from-chat", "message": {"content": "Go"}}
        )
        assert started.status_code == 202
        result = ai_chat("6", server.url, "from-chat", [{"resume": True}])
    assert _text(_assistant(result)) == "".join(tokens)


@pytest.mark.parametrize("version", VERSIONS)
async def test_regenerate_answers_the_message_again_in_place(
    server: LiveServer, upstream: OpenAIStandIn, version: str
) -> None:
    """regenerate() sends the conversation up to the user's message, which the thread holds:
    the thread goes back to it, so it keeps one answer, the new one."""
    upstream.enqueue(Reply(tokens=["First."]), Reply(tokens=["Second."]))
    result = ai_chat(version, server.url, "regen", [{"send": "Hi"}, {"regenerate": True}])

    assert [m["role"] for m in result["messages"]] == ["user", "assistant"]
    assert _text(_assistant(result)) == "Second."
    assert upstream.seen[-1].messages[-1] == {"role": "user", "content": "Hi"}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        thread = (await client.get("/threads/regen/messages")).json()
    assert [m["content"] for m in thread["messages"]] == ["Hi", "Second."]


async def test_resume_replays_an_approval_continuation(
    server: LiveServer, upstream: OpenAIStandIn
) -> None:
    """The continuation after an approval is dropped part-way; a reloaded page's
    resumeStream() replays it from nothing: the tool's part with its input and output, then
    the answer, built without an error."""
    answer = [f"a{i} " for i in range(30)]
    upstream.enqueue(
        Reply(tokens=[], tool_calls=[ToolCall("save_note", NOTE, id="n1")]),
        Reply(tokens=answer, delay=0.05),
    )
    asked = ai_chat(
        "7", server.url, "replay", [{"send": "Note it"}], body={"graphType": "tool-agent"}
    )
    user, assistant = asked["messages"]
    (call,) = _tools(assistant)
    call = {
        **call,
        "state": "approval-responded",
        "approval": {**call["approval"], "approved": True},
    }
    assistant = {
        **assistant,
        "parts": [p if p["type"] != call["type"] else call for p in assistant["parts"]],
    }
    body = {"id": "replay", "messages": [user, assistant], "graphType": "tool-agent"}
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        async with client.stream("POST", "/api/chat", json=body) as response:
            async for line in response.aiter_lines():
                if '"text-delta"' in line:
                    break

        result = ai_chat("7", server.url, "replay", [{"resume": True}])
    message = _assistant(result)
    (replayed,) = _tools(message)
    assert (replayed["toolCallId"], replayed["state"], replayed["input"]) == (
        "n1",
        "output-available",
        NOTE,
    )
    assert _text(message) == "".join(answer)
