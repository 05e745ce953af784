"""``GET /``: the chat playground page (static files shipped in the package under ``app/static``).

The files are served by two plain routes rather than a ``StaticFiles`` mount so that the whole
page stays inside this router: ``create_app`` includes it or not, and nothing else changes.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from starlette.responses import FileResponse

from app.wire.json import JSONRoute

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

# A fixed table of what is served: no path from the URL ever reaches the file system.
ASSETS: dict[str, str] = {
    "playground.css": "text/css; charset=utf-8",
    "playground.js": "text/javascript; charset=utf-8",
    "reply.js": "text/javascript; charset=utf-8",
    "sse.js": "text/javascript; charset=utf-8",
}

# The page fetches nothing from other origins; the policy has the browser enforce that.
PAGE_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate on every load so the page and its scripts never come from different releases.
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["playground"], include_in_schema=False, route_class=JSONRoute)


@router.api_route("/", methods=["GET", "HEAD"])
async def page() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "index.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )


@router.api_route("/static/{name}", methods=["GET", "HEAD"])
async def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, f"There is no static file {name!r}.")
    return FileResponse(
        STATIC_DIR / name,
        media_type=media_type,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
    )
