"""The run log: every run's frames where any replica can replay and follow them.

A run of this replica is read from the run registry itself (which keeps finished runs for late
clients); the log serves the runs of *other* replicas. So :class:`MemoryRunLog`, the backend of
a server with no Redis, logs nothing and knows no run: there is no other replica. With Redis,
``app.stores.redis_run_log.RedisRunLog`` keeps each run's frames in a Redis Stream. Either
way an API's rejoin is one code path: the registry first, then the log.

A log keeps frames in the wire format of the API that started the run (its :class:`Codec`,
given by the wire package's codec), as ``(position, event name, data)``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.errors import AppError

LogFrame = tuple[int, bytes, bytes]  # position, event name, data


class RunIdentity(Protocol):
    """Whose run it is: what a log's owner entry holds."""

    @property
    def request_id(self) -> str: ...

    @property
    def thread_id(self) -> str: ...

    @property
    def user_id(self) -> str: ...


class Run(Protocol):
    """What a log reads of a run (``app.runs.run.Run`` is one): its identity, the events it has
    produced so far, and the error it ended with. Stores sit below the run model, so they name
    it by its shape."""

    @property
    def spec(self) -> RunIdentity: ...

    @property
    def base(self) -> int:
        """The log position before its first event (above 0: taken over from another
        replica, whose frames come before)."""
        ...

    @property
    def events(self) -> Sequence[Any]: ...

    @property
    def error(self) -> AppError | None: ...


@dataclass(frozen=True)
class RunOwner:
    user_id: str
    thread_id: str


class Codec(Protocol):
    """How a run's events become log entries: a wire encoder's ``parts``."""

    def parts(self, event: Any, position: int) -> tuple[bytes, bytes] | None: ...

    def error_parts(self, error: AppError) -> tuple[bytes, bytes]: ...

    def resume(self, logged: Sequence[bytes]) -> None:
        """Catch up with the data of the frames logged before a takeover, sending nothing."""


class RunLog(Protocol):
    def attach(self, run: Run, codec: Codec) -> None:
        """Start logging ``run``, encoded by ``codec``."""

    async def end(self, run: Run) -> None:
        """Write the rest of ``run``, its terminal frame included."""

    async def owner(self, request_id: str) -> RunOwner | None:
        """Who started the run, if another replica logs it."""
        ...

    async def ended_by(self, request_id: str, position: int) -> bool:
        """Whether the run's log ends (final or error) at or before ``position``."""
        ...

    async def last_named(self, request_id: str, name: bytes, before: int) -> bytes | None:
        """The data of the run's last entry called ``name`` before position ``before``."""
        ...

    def frames(self, request_id: str, after: int) -> AsyncGenerator[list[LogFrame]]:
        """The run's frames after position ``after``, then live ones until its end."""
        ...

    async def logged(self, request_id: str) -> Sequence[LogFrame]:
        """Every frame the run's log holds now (what a replica taking the run over goes on
        after)."""
        ...

    async def abandon(self, request_id: str, parts: tuple[bytes, bytes]) -> None:
        """End the log of a run that no replica will finish with ``parts`` (an error
        frame's name and data), after its last frame."""

    async def aclose(self) -> None: ...


class MemoryRunLog:
    """One process: every run is in the registry, and no other replica logs any."""

    def attach(self, run: Run, codec: Codec) -> None:
        return None

    async def end(self, run: Run) -> None:
        return None

    async def owner(self, request_id: str) -> RunOwner | None:
        return None

    async def ended_by(self, request_id: str, position: int) -> bool:
        return False

    async def last_named(self, request_id: str, name: bytes, before: int) -> bytes | None:
        return None

    async def frames(self, request_id: str, after: int) -> AsyncGenerator[list[LogFrame]]:
        return
        yield  # an async generator that yields nothing

    async def logged(self, request_id: str) -> Sequence[LogFrame]:
        return ()

    async def abandon(self, request_id: str, parts: tuple[bytes, bytes]) -> None:
        return None

    async def aclose(self) -> None:
        return None
