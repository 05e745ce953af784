"""The graph contract, held by every version the shipped catalog registers.

This is the one suite that runs ``graphs.catalog.build_registry()``: a new version is covered
here without writing a test. Each version runs offline (no API key) and against the OpenAI
stand-in with both model clients (``MODEL_CLIENT=fast`` and ``stock``), over real sockets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage

from app import Settings, create_app
from bench.openai_standin import OpenAIStandIn, Reply
from graphs import GraphVersion, build_registry
from studio import exports
from tests.support.live_server import LiveServer
from tests.support.sse import frames, stream

REGISTRY = build_registry()
VERSIONS = [pytest.param(v, id=v.ref) for v in REGISTRY]
MODES = ("offline", "fast", "stock")


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    mode: str = request.param
    return mode


@pytest.fixture(scope="module")
def contract_server(
    mode: str, standin_server: OpenAIStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The shipped catalog served in ``mode``, one server per mode for the whole module."""
    values: dict[str, Any] = {
        "sqlite_path": tmp_path_factory.mktemp(mode) / "memory.sqlite",
        "offline_token_delay_ms": 5,
        "upstream_max_retries": 0,
    }
    if mode != "offline":
        values.update(
            openai_api_key="test-key", openai_base_url=standin_server.base_url, model_client=mode
        )
    server = LiveServer(create_app(Settings(_env_file=None, **values)))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def client(contract_server: LiveServer, upstream: OpenAIStandIn) -> Any:
    async with httpx.AsyncClient(base_url=contract_server.url, timeout=20) as http:
        yield http


def _body(graph: GraphVersion, content: str, thread: str, **extra: Any) -> dict[str, Any]:
    return {
        "threadId": thread,
        "userId": "contract",
        "graphType": graph.name,
        "graphSettings": {"graphType": graph.ref},
        "message": {"content": content},
        **extra,
    }


async def _history(client: httpx.AsyncClient, thread: str) -> dict[str, Any]:
    response = await client.get(f"/threads/{thread}/messages", params={"userId": "contract"})
    assert response.status_code == 200, response.text
    history: dict[str, Any] = response.json()
    return history


def _thread(graph: GraphVersion, mode: str, what: str) -> str:
    return f"{what}-{mode}-{graph.name}-{graph.version}".replace(".", "_")


@pytest.mark.parametrize("graph", VERSIONS)
async def test_stream_sends_chunks_then_a_final_that_holds_them(
    graph: GraphVersion, mode: str, client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """``/stream``: chunk frames, then one ``final`` whose text is the chunks and whose
    metadata names the version and the usage."""
    upstream.enqueue(Reply(tokens=["The ", "answer ", "is ", "here."]))
    result = await stream(client, _body(graph, "Hello there", _thread(graph, mode, "stream")))

    assert result.status == 200, result.body
    assert result.chunks, "no chunk frames"
    final = result.final
    assert final["text"] == "".join(result.chunks)
    assert final["metadata"]["graphType"] == graph.ref
    assert final["metadata"]["usage"]["outputTokens"] > 0
    assert final["metadata"]["provider"] == ("offline" if mode == "offline" else "openai")
    if mode != "offline":
        assert final["text"] == "The answer is here."
        assert final["metadata"]["usage"]["outputTokens"] == 4
        assert final["metadata"]["finishReason"] == "stop"


@pytest.mark.parametrize("graph", VERSIONS)
async def test_generate_answers_with_the_same_payload(
    graph: GraphVersion, mode: str, client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """``/generate``: one JSON body shaped like ``final``."""
    upstream.enqueue(Reply(tokens=["Generated ", "reply."]))
    response = await client.post(
        "/generate", json=_body(graph, "Hello", _thread(graph, mode, "generate"))
    )

    assert response.status_code == 200, response.text
    payload = response.json()
    assert set(payload) == {"text", "attachments", "metadata"}
    assert payload["text"]
    assert payload["metadata"]["graphType"] == graph.ref
    if mode != "offline":
        assert payload["text"] == "Generated reply."


@pytest.mark.parametrize("graph", VERSIONS)
async def test_second_turn_remembers_the_first(
    graph: GraphVersion, mode: str, client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """Turn 2 reaches the model with turn 1's message and reply; the thread keeps all four."""
    thread = _thread(graph, mode, "memory")
    upstream.enqueue(Reply(tokens=["First ", "reply."]), Reply(tokens=["Second ", "reply."]))
    first = await client.post("/generate", json=_body(graph, "My name is Ada", thread))
    second = await client.post("/generate", json=_body(graph, "What is my name?", thread))

    assert first.status_code == second.status_code == 200
    if mode == "offline":
        assert "turn 2" in second.json()["text"]
    else:
        sent = [m for m in upstream.seen[-1].messages if m["role"] != "system"]
        assert [m["role"] for m in sent] == ["user", "assistant", "user"]
        assert sent[0]["content"] == "My name is Ada"
        assert sent[1]["content"] == "First reply."
    history = (
        await client.get(f"/threads/{thread}/messages", params={"userId": "contract"})
    ).json()
    roles = [m["role"] for m in history["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    assert history["messages"][-1]["content"] == second.json()["text"]


@pytest.mark.parametrize("graph", VERSIONS)
async def test_cancel_keeps_what_streamed_and_the_next_turn_works(
    graph: GraphVersion, mode: str, client: httpx.AsyncClient, upstream: OpenAIStandIn
) -> None:
    """``/cancel`` mid-reply ends the stream with a cancelled ``final``; the thread keeps the
    partial reply and the next turn answers."""
    thread = _thread(graph, mode, "cancel")
    request_id = f"{thread}-r1"
    upstream.enqueue(Reply(token_count=200, delay=0.02), Reply(tokens=["Fine."]))
    body = _body(graph, "Tell me a long story", thread, requestId=request_id)
    if mode == "offline":
        body["message"]["content"] = " ".join(["long"] * 300)  # a long echo to cut short
    chunks: list[str] = []
    final: dict[str, Any] = {}
    async with client.stream("POST", "/stream", json=body) as response:
        assert response.status_code == 200
        async for frame in frames(response):
            if frame.event == "stream_event":
                chunks.append(frame.data["content"])
                if len(chunks) == 3:
                    cancel = await client.post(f"/cancel/{request_id}")
                    assert cancel.status_code == 200, cancel.text
            elif frame.event == "final":
                final = frame.data

    assert final["metadata"]["finishReason"] == "cancelled"
    assert final["text"] == "".join(chunks)
    following = await client.post("/generate", json=_body(graph, "Short one", thread))
    assert following.status_code == 200, following.text
    history = (
        await client.get(f"/threads/{thread}/messages", params={"userId": "contract"})
    ).json()
    contents = [(m["role"], m["content"]) for m in history["messages"]]
    assert contents[:2] == [("user", body["message"]["content"]), ("assistant", final["text"])]
    assert [role for role, _ in contents[2:]] == ["user", "assistant"]


@pytest.mark.parametrize("graph", VERSIONS)
async def test_graph_types_lists_the_version_with_its_settings_schema(
    graph: GraphVersion, client: httpx.AsyncClient
) -> None:
    """``/graph-types`` shows the version, its default mark and its settings schema."""
    listing = (await client.get("/graph-types")).json()["graphs"]
    entry = next(g for g in listing if g["name"] == graph.name)
    version = next(v for v in entry["versions"] if v["ref"] == graph.ref)
    assert version["settingsSchema"] == graph.settings.model_json_schema(by_alias=True)
    assert entry["default"] == str(REGISTRY.default(graph.name).version)


@pytest.mark.parametrize("graph", VERSIONS)
async def test_studio_export_loads_and_answers(
    graph: GraphVersion,
    mode: str,
    upstream: OpenAIStandIn,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The export ``langgraph dev`` loads for the version compiles without a checkpointer,
    draws, and answers a turn with the model client of ``mode``."""
    if mode != "offline":
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", upstream.base_url)
        monkeypatch.setenv("MODEL_CLIENT", mode)
    upstream.enqueue(Reply(tokens=["From ", "Studio."]))
    factory = getattr(exports, exports.attribute_name(graph.ref))
    exported = factory()

    assert exported.checkpointer is None  # the dev server brings its own
    nodes = set(exported.get_graph().nodes)
    assert set(graph.conversation.stream_nodes) <= nodes
    # The same build, on a model client this test can close.
    models = exports.models_from_environment()
    try:
        compiled = exports.studio_graph(graph.ref, models=models)
        result = await asyncio.wait_for(
            compiled.ainvoke(
                graph.conversation.input(HumanMessage("hi", id="m1")), context=graph.settings()
            ),
            20,
        )
    finally:
        await models.aclose()
    reply = graph.conversation.reply(result, "m1")
    assert isinstance(reply, AIMessage)
    if mode != "offline":
        assert reply.text == "From Studio."
