"""The request's principal, as routes read it (the Guard puts it in the ASGI scope)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.auth.credentials import OPEN, Principal


async def get_principal(request: Request) -> Principal | None:
    """``None`` when the request carries a stream's access token instead of a credential."""
    state = request.scope.get("state") or {}
    principal: Principal | None = state.get("principal", OPEN)
    return principal


PrincipalDep = Annotated[Principal | None, Depends(get_principal)]
