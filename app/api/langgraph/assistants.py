"""Assistants: the registry's graph versions, read-only (see ``app.api.langgraph.catalog``)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter

from app.api.deps import Services, ServicesDep
from app.api.langgraph.catalog import Assistant
from app.api.langgraph.schemas import AssistantCount, AssistantSearch
from app.api.langgraph.views import json_response, search_page
from app.auth.principal import ActorDep
from app.errors import AssistantNotFound, AssistantsReadOnly, ValidationFailed
from app.wire.json import JSONRoute

log = logging.getLogger("app.langgraph")
router = APIRouter(tags=["langgraph: assistants"], route_class=JSONRoute)


def assistant(services: Services, assistant_id: str) -> Assistant:
    found = services.assistants.get(assistant_id)
    if found is None:
        names = sorted({a.name for a in services.assistants})
        raise AssistantNotFound(
            f"no assistant {assistant_id!r}: use an assistant id, a graph name or a graph "
            f"version ({', '.join(names)})"
        )
    return found


def _matches(
    found: Assistant, metadata: dict[str, Any] | None, graph: str | None, name: str | None
) -> bool:
    payload = found.payload()
    if graph is not None and payload["graph_id"] != graph:
        return False
    if name is not None and name not in found.name:
        return False
    return all(payload["metadata"].get(k) == v for k, v in (metadata or {}).items())


@router.post("/assistants/search", summary="Assistants: a default per graph, one per version")
async def search(body: AssistantSearch, services: ServicesDep, actor: ActorDep) -> Response:
    found = [
        a.payload()
        for a in services.assistants
        if _matches(a, body.metadata, body.graph_id, body.name)
    ]
    return search_page(
        found,
        sort_by=body.sort_by or "name",
        descending=body.sort_order == "desc",
        offset=body.offset,
        limit=body.limit,
        select=body.select,
    )


@router.post("/assistants/count", summary="How many assistants match")
async def count(body: AssistantCount, services: ServicesDep, actor: ActorDep) -> int:
    return sum(_matches(a, body.metadata, body.graph_id, body.name) for a in services.assistants)


@router.get("/assistants/{assistant_id}", summary="One assistant")
async def get(assistant_id: str, services: ServicesDep, actor: ActorDep) -> Response:
    return json_response(assistant(services, assistant_id).payload())


@router.get("/assistants/{assistant_id}/graph", summary="The assistant's graph, to draw")
async def graph(
    assistant_id: str,
    services: ServicesDep,
    actor: ActorDep,
    xray: Annotated[str | None, Query()] = None,
) -> Response:
    depth: bool | int = False
    if xray is not None:
        if xray.lower() in ("true", "false"):
            depth = xray.lower() == "true"
        elif xray.isdigit() and int(xray) > 0:
            depth = int(xray)
        else:
            raise ValidationFailed("xray is true, false or a positive depth")
    compiled = services.runs.runner.graph(assistant(services, assistant_id).graph)
    return json_response(compiled.get_graph(xray=depth).to_json())


@router.get("/assistants/{assistant_id}/schemas", summary="The assistant's graph's schemas")
async def schemas(assistant_id: str, services: ServicesDep, actor: ActorDep) -> Response:
    found = assistant(services, assistant_id)
    compiled = services.runs.runner.graph(found.graph)
    return json_response(
        {
            "graph_id": found.graph.name,
            "input_schema": compiled.get_input_jsonschema(),
            "output_schema": compiled.get_output_jsonschema(),
            "state_schema": _state_schema(compiled),
            "config_schema": {},
            # The version's graph settings are its runtime context (``context``).
            "context_schema": found.graph.settings.model_json_schema(),
        }
    )


def _state_schema(compiled: Any) -> dict[str, Any] | None:
    try:
        schema: dict[str, Any] = TypeAdapter(compiled.builder.state_schema).json_schema()
    except Exception as exc:  # a state type pydantic cannot describe: say so, draw the rest
        log.info("no JSON schema for the state of %s: %s", compiled.name, exc)
        return None
    return schema


@router.get("/assistants/{assistant_id}/subgraphs", summary="The graph's subgraphs")
@router.get("/assistants/{assistant_id}/subgraphs/{namespace}", include_in_schema=False)
async def subgraphs(
    assistant_id: str,
    services: ServicesDep,
    actor: ActorDep,
    namespace: str | None = None,
    recurse: bool = False,
) -> Response:
    compiled = services.runs.runner.graph(assistant(services, assistant_id).graph)
    found = {
        ns: {
            "input_schema": sub.get_input_jsonschema(),
            "output_schema": sub.get_output_jsonschema(),
        }
        for ns, sub in compiled.get_subgraphs(namespace=namespace, recurse=recurse)
    }
    return json_response(found)


@router.post("/assistants/{assistant_id}/versions", summary="The assistant's versions: itself")
async def versions(assistant_id: str, services: ServicesDep, actor: ActorDep) -> Response:
    return json_response([assistant(services, assistant_id).payload()])


@router.post("/assistants", include_in_schema=False)
async def create() -> None:
    raise AssistantsReadOnly(allow="")


@router.patch("/assistants/{assistant_id}", include_in_schema=False)
@router.delete("/assistants/{assistant_id}", include_in_schema=False)
async def change(assistant_id: str) -> None:
    raise AssistantsReadOnly(allow="GET")


@router.post("/assistants/{assistant_id}/latest", include_in_schema=False)
async def set_latest(assistant_id: str) -> None:
    raise AssistantsReadOnly(allow="")
