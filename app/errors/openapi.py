"""The one error envelope as models, for the OpenAPI document (``{"error": {"code", "message",
"requestId"}}``), and the refusals every route that acts for a user may answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    """One refusal: ``code`` is stable, ``message`` says what to do."""

    code: str
    message: str
    request_id: str | None = Field(alias="requestId")
    details: Any = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody


# What any endpoint that acts for a user may answer once credentials are configured.
AUTH_REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorEnvelope, "description": "No valid credential (when credentials are set)"},
    403: {"model": ErrorEnvelope, "description": "userId names another user than the credential"},
}
