"""``GET /``: the chat playground page (static files shipped in the package)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["playground"], include_in_schema=False)
