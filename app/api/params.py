"""Path and query parameters every API shares: ids end up in Redis keys, logs and URLs, so
they keep to a safe, bounded alphabet."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import StringConstraints

Id = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$", min_length=1, max_length=128),
]

RequestIdPath = Annotated[
    str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$", min_length=1, max_length=128)
]
ThreadIdPath = RequestIdPath
UserIdQuery = Annotated[
    str | None,
    Query(
        alias="userId",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$",
        min_length=1,
        max_length=128,
        description="Whose thread or run: a user credential's own user by default, "
        "anonymous without credentials",
    ),
]
