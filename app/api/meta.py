"""``/health``, ``/ready`` and ``/graph-types``: what the server runs and whether it can serve."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.api.deps import ServicesDep
from app.auth.principal import PrincipalDep
from app.errors import AppError
from app.errors.openapi import ErrorEnvelope
from app.wire.json import JSONResponse, JSONRoute

router = APIRouter(tags=["server"], route_class=JSONRoute)


@router.get("/health", summary="Liveness, and which model and checkpointer are in use")
async def health(services: ServicesDep) -> dict[str, Any]:
    return {
        "status": "ok",
        "model": services.models.describe(),
        "checkpointer": services.stores.checkpointer.kind,
    }


@router.get(
    "/ready",
    summary="Ready when thread memory can be reached",
    responses={503: {"model": ErrorEnvelope}},
)
async def ready(services: ServicesDep) -> JSONResponse:
    try:
        await services.stores.checkpointer.ping()
    except AppError as exc:
        return JSONResponse(exc.envelope(None), status_code=exc.status)
    return JSONResponse({"status": "ready", "checkpointer": services.stores.checkpointer.kind})


@router.get("/graph-types", summary="Every graph, its versions and their settings")
async def graph_types(services: ServicesDep) -> dict[str, Any]:
    registry = services.registry
    graphs = []
    for name in registry.available():
        default = registry.default(name)
        graphs.append(
            {
                "name": name,
                "default": str(default.version),
                "versions": [
                    {
                        "version": str(v.version),
                        "ref": v.ref,
                        "description": v.description,
                        "default": v is default,
                        # Whether a turn may end interrupted, waiting for "resume".
                        "interrupts": v.interrupts,
                        "settingsSchema": v.settings.model_json_schema(by_alias=True),
                    }
                    for v in registry.versions(name)
                ],
            }
        )
    return {"graphs": graphs}


@router.get(
    "/me",
    summary="Who the credential is: its user, if it is one user's",
    responses={401: {"model": ErrorEnvelope, "description": "No valid credential"}},
)
async def me(principal: PrincipalDep) -> dict[str, Any]:
    if principal is None:
        return {"kind": "none", "userId": None}
    return {"kind": principal.kind, "userId": principal.user_id}


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(services: ServicesDep) -> Response:
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
