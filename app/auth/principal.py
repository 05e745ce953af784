"""Who a request comes from (its :class:`Principal`, which the Guard puts in the ASGI scope),
and the one rule for which user a request acts for.

A user's credential (a user key, a JWT) acts for its user, and naming another is refused. A
service key, or an open server (no credentials configured), acts for the user the request
names: for :func:`acting_user`, "anonymous" when it names none; for :func:`acting_scope`, every
user (``None``), as an operator's tools (Studio, a back end) need: a run it starts on a thread
then acts for the thread's owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Header, Request

from app.errors import Unauthenticated, UserMismatch

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Principal:
    """Who a request comes from; ``label`` is what logs name (never a key or a token)."""

    kind: Literal["open", "service", "user"]
    label: str
    user_id: str | None = None

    def user_for(self, claimed: str | None) -> str:
        """The user a request acts for, given the ``userId`` it names (or not)."""
        if self.kind == "user":
            assert self.user_id is not None
            if claimed is not None and claimed != self.user_id:
                raise UserMismatch(
                    f"this credential is user {self.user_id!r}'s; it cannot act for "
                    f"{claimed!r} (leave userId out, or name {self.user_id!r})"
                )
            return self.user_id
        return claimed or ANONYMOUS


OPEN = Principal("open", "open")


def acting_user(principal: Principal | None, named: str | None) -> str:
    """The one user a request acts for, given the user it names (or not); a request that
    brought no credential acts for nobody."""
    if principal is None:
        raise Unauthenticated("Send a valid credential as 'Authorization: Bearer <key or token>'.")
    return principal.user_for(named)


def acting_scope(principal: Principal | None, named: str | None) -> str | None:
    """Like :func:`acting_user`, but a service key or an open server that names no user acts
    for every user: ``None``."""
    if principal is None:
        raise Unauthenticated("Send a valid credential as 'Authorization: Bearer <key or token>'.")
    if principal.kind == "user" or named is not None:
        return principal.user_for(named)
    return None


async def get_principal(request: Request) -> Principal | None:
    """``None`` when the request carries a stream's access token instead of a credential."""
    state = request.scope.get("state") or {}
    principal: Principal | None = state.get("principal", OPEN)
    return principal


PrincipalDep = Annotated[Principal | None, Depends(get_principal)]

# The user a header names (LangGraph's SDKs send X-User-Id).
UserHeader = Annotated[
    str | None, Header(alias="X-User-Id", pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$", max_length=128)
]


async def acting_for(principal: PrincipalDep, x_user_id: UserHeader = None) -> str | None:
    """:func:`acting_scope` for the user named by ``X-User-Id``, as a dependency."""
    return acting_scope(principal, x_user_id or None)


ActorDep = Annotated[str | None, Depends(acting_for)]
