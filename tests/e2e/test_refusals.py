"""What fails before the first byte gets a real status and the JSON envelope."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bench.openai_standin import OpenAIStandIn
from graphs import GraphVersion, Registry, Version
from graphs.streaming_chat import v1_0_0
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.support.registries import chat_registry


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


V1 = "streaming-chat::1.0.0"


@pytest.mark.parametrize("path", ["/stream", "/generate"])
@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"threadId": "t"}, "message"),
        ({"message": {"content": ""}}, "message.content"),
        ({"message": {"content": "   \n"}}, "empty"),
        ({"message": {"content": 42}}, "message.content"),
        ({"message": {"content": "hi"}, "threadId": "../../etc/passwd"}, "threadId"),
        ({"message": {"content": "hi"}, "graphType": "Bad Name"}, "graph name"),
        ({"message": {"content": "hi"}, "graphSettings": {"graphType": "x::1"}}, "MAJOR"),
        ({"message": {"content": "hi"}, "graphSettings": {"graphType": 7}}, "string"),
        ({"message": {"content": "hi"}, "graphSettings": {"temperature": "hot"}}, "temperature"),
        ({"message": {"content": "hi"}, "graphSettings": {"graphType": V1, "style": "x"}}, "style"),
    ],
)  # fmt: skip
async def test_bad_body_is_422(
    client: httpx.AsyncClient, upstream: OpenAIStandIn, path: str, body: dict[str, Any],
    fragment: str,
) -> None:  # fmt: skip
    """Bad bodies and settings are 422 validation_error naming what is wrong; no model call."""
    error = _error(await client.post(path, json=body), 422, "validation_error")
    assert fragment in error["message"]
    assert upstream.seen == []


async def test_request_id_is_echoed_in_refusals(client: httpx.AsyncClient) -> None:
    """A refused body still reports the requestId it carried."""
    body = {"requestId": "req-9", "message": {"content": ""}}
    assert (
        _error(await client.post("/stream", json=body), 422, "validation_error")["requestId"]
        == "req-9"
    )


async def test_graph_types_naming_different_graphs_is_422(client: httpx.AsyncClient) -> None:
    """graphType and graphSettings.graphType must not name different graphs."""
    body = turn("hi", graphType="other", graphSettings={"graphType": "streaming-chat::1.0.0"})
    error = _error(await client.post("/stream", json=body), 422, "validation_error")
    assert "different graphs" in error["message"]


@pytest.mark.parametrize(
    ("graph_settings", "fragment"),
    [
        ({"graphType": "nope::1.0.0"}, "unknown graph 'nope'"),
        ({"graphType": "streaming-chat::9.0.0"}, "known: 1.0.0, 1.1.0"),
        ({"graphType": "streaming-chat::^2.0.0"}, "known: 1.0.0, 1.1.0"),
    ],
)
async def test_unknown_graph_or_version_is_404_listing_what_exists(
    client: httpx.AsyncClient, graph_settings: dict[str, str], fragment: str
) -> None:
    """Unknown graphs and versions are 404 graph_not_found, listing the available ones."""
    body = turn("hi", graphSettings=graph_settings)
    error = _error(await client.post("/stream", json=body), 404, "graph_not_found")
    assert fragment in error["message"]
    assert error["details"]["available"] == {"streaming-chat": ["1.0.0", "1.1.0"]}


async def test_thread_of_another_graph_is_409(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """A thread stays with the graph it started on; another graph gets 409."""
    registry: Registry = chat_registry()
    registry.register(
        GraphVersion(
            "echo",
            Version(1, 0, 0),
            v1_0_0.Settings,
            v1_0_0.build,
            conversation=v1_0_0.GRAPH.conversation,
        )
    )
    server = make_server(registry=registry)
    async with httpx.AsyncClient(base_url=server.url) as client:
        first = await client.post("/generate", json=turn("hi", graphType="streaming-chat"))
        assert first.status_code == 200
        again = await client.post("/generate", json=turn("hi", graphType="echo"))
        error = _error(again, 409, "thread_graph_mismatch")
        assert "streaming-chat" in error["message"]
        # Another version of the same graph may continue the thread.
        other_version = turn("hi", graphSettings={"graphType": "streaming-chat::1.0.0"})
        assert (await client.post("/generate", json=other_version)).status_code == 200


async def test_unknown_route_and_method_use_the_envelope(client: httpx.AsyncClient) -> None:
    """404 and 405 from routing use the same envelope."""
    _error(await client.get("/nope"), 404, "not_found")
    _error(await client.get("/stream"), 405, "method_not_allowed")


async def test_invalid_json_is_422(client: httpx.AsyncClient) -> None:
    """A body that is not JSON is a 422 validation_error."""
    response = await client.post(
        "/stream", content=b"{not json", headers={"content-type": "application/json"}
    )
    _error(response, 422, "validation_error")


async def test_a_body_sent_without_a_json_content_type_is_a_415_that_names_it(
    client: httpx.AsyncClient,
) -> None:
    """curl's -d alone sends a form: the refusal says to send Content-Type: application/json."""
    answer = await client.post(
        "/stream",
        content=b'{"message": {"content": "hi"}}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    error = _error(answer, 415, "unsupported_media_type")
    assert "Content-Type: application/json" in error["message"]
    assert "application/x-www-form-urlencoded" in error["message"]


async def test_an_empty_and_a_blank_message_get_the_same_refusal(
    client: httpx.AsyncClient,
) -> None:
    """One style for every empty-content case: same code, message and requestId."""
    empty, blank = [
        _error(
            await client.post("/stream", json={"requestId": rid, "message": {"content": c}}),
            422,
            "validation_error",
        )
        for rid, c in (("r-empty", ""), ("r-blank", "  \n"))
    ]

    assert empty["message"] == blank["message"]
    assert "message.content is empty" in empty["message"]
    assert (empty["requestId"], blank["requestId"]) == ("r-empty", "r-blank")


async def test_another_users_thread_says_how_to_name_its_owner(
    client: httpx.AsyncClient,
) -> None:
    """History read without the owner's userId: a 404 that says what to pass."""
    made = await client.post("/generate", json=turn("hi", thread="owned", user="alice"))
    assert made.status_code == 200

    error = _error(await client.get("/threads/owned/messages"), 404, "thread_not_found")

    assert "userId" in error["message"] and "credential" in error["message"]
