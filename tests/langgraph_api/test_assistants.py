"""Assistants through LangGraph's Python client: the registry's versions, read-only."""

from __future__ import annotations

import uuid

import pytest
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import NotFoundError

from tests.langgraph_api.conftest import Offline
from tests.langgraph_api.support import TIMEOUT, status_of

# langgraph-api derives a graph's default assistant id from the graph's name in this namespace.
NAMESPACE_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
NAMES = {
    "streaming-chat",
    "tool-agent",
    "streaming-chat::1.0.0",
    "streaming-chat::1.1.0",
    "tool-agent::1.0.0",
}


async def test_search_lists_a_default_per_graph_and_one_per_version(lg: LangGraphClient) -> None:
    """Two graphs, three versions: five assistants; a default follows its graph's default
    version and has langgraph-api's id for the graph; count and graph_id filter agree."""
    found = await lg.assistants.search(limit=100)
    by_name = {a["name"]: a for a in found}
    assert set(by_name) == NAMES
    assert len(found) == 5
    chat = by_name["streaming-chat"]
    assert chat["graph_id"] == "streaming-chat"
    assert chat["assistant_id"] == str(uuid.uuid5(NAMESPACE_GRAPH, "streaming-chat"))
    assert chat["metadata"]["default"] is True
    assert chat["metadata"]["version"] == "1.1.0"
    assert by_name["streaming-chat::1.0.0"]["metadata"]["default"] is False
    assert by_name["streaming-chat::1.0.0"]["graph_id"] == "streaming-chat"
    assert len({a["assistant_id"] for a in found}) == 5
    assert await lg.assistants.count() == 5
    agents = await lg.assistants.search(graph_id="tool-agent")
    assert {a["name"] for a in agents} == {"tool-agent", "tool-agent::1.0.0"}
    assert await lg.assistants.count(graph_id="tool-agent") == 2


async def test_assistant_ids_are_the_same_on_two_server_starts(offline: Offline) -> None:
    """Ids are derived, not stored: a second server (its own database) gives the same ones."""
    seen = []
    for _ in range(2):
        async with get_client(url=offline(), api_key=None, timeout=TIMEOUT) as client:
            found = await client.assistants.search(limit=100)
        seen.append({a["name"]: a["assistant_id"] for a in found})
    assert seen[0] == seen[1]
    assert len(seen[0]) == 5


async def test_get_by_id_graph_name_reference_and_studio_id(lg: LangGraphClient) -> None:
    """assistants.get takes a UUID from search, a graph name, a reference or ``name-version``;
    an unknown id is 404."""
    found = {a["name"]: a for a in await lg.assistants.search(limit=100)}
    version = found["streaming-chat::1.0.0"]
    assert await lg.assistants.get(version["assistant_id"]) == version
    assert await lg.assistants.get("streaming-chat::1.0.0") == version
    assert await lg.assistants.get("streaming-chat-1.0.0") == version
    assert await lg.assistants.get("streaming-chat") == found["streaming-chat"]
    with pytest.raises(NotFoundError):
        await lg.assistants.get(str(uuid.uuid4()))


async def test_get_graph_draws_the_nodes_and_takes_xray(lg: LangGraphClient) -> None:
    """The tool agent's drawing has its agent and tools nodes and their edges, with xray too."""
    drawn = await lg.assistants.get_graph("tool-agent")
    nodes = {n["id"] for n in drawn["nodes"]}
    assert {"__start__", "agent", "tools", "__end__"} <= nodes
    edges = {(e["source"], e["target"]) for e in drawn["edges"]}
    assert {("__start__", "agent"), ("tools", "agent"), ("agent", "tools")} <= edges
    xray = await lg.assistants.get_graph("tool-agent", xray=True)
    assert {n["id"] for n in xray["nodes"]} >= nodes
    deep = await lg.assistants.get_graph("tool-agent", xray=2)
    assert {n["id"] for n in deep["nodes"]} >= nodes


async def test_get_schemas_has_input_state_and_context_schemas(lg: LangGraphClient) -> None:
    """The graph's input and state schemas name messages; its settings are its context."""
    schemas = await lg.assistants.get_schemas("streaming-chat::1.0.0")
    assert schemas["graph_id"] == "streaming-chat"
    assert "messages" in schemas["input_schema"]["properties"]
    assert "messages" in schemas["state_schema"]["properties"]
    context = schemas["context_schema"]["properties"]
    assert {"model", "temperature"} <= set(context)


async def test_creating_updating_or_deleting_an_assistant_is_405(lg: LangGraphClient) -> None:
    """Assistants are the registry's: create, update and delete are refused as not allowed."""
    with pytest.raises(Exception) as created:
        await lg.assistants.create("streaming-chat", name="mine")
    assert status_of(created.value) == 405
    with pytest.raises(Exception) as updated:
        await lg.assistants.update("streaming-chat", metadata={"x": 1})
    assert status_of(updated.value) == 405
    with pytest.raises(Exception) as deleted:
        await lg.assistants.delete("streaming-chat")
    assert status_of(deleted.value) == 405
    assert len(await lg.assistants.search(limit=100)) == 5
