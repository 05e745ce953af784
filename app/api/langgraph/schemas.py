"""Request bodies of the LangGraph API, with the fields of ``langgraph-api``'s OpenAPI document.

Every field its document names is declared, so that a field this server does not implement is
refused by name (:func:`refuse_unimplemented`) rather than dropped; a field it does not name
at all is refused by validation (``extra="forbid"``). Responses are plain dicts in the
document's shapes (see the routes).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.errors import ValidationFailed

StreamMode = Literal[
    "values",
    "messages",
    "messages-tuple",
    "tasks",
    "checkpoints",
    "updates",
    "events",
    "debug",
    "custom",
]
Nodes = Literal["*"] | list[str]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def refuse_unimplemented(self, *names: str) -> None:
        """A 422 naming the first of ``names`` that the request set."""
        for name in names:
            value = getattr(self, name)
            if value not in (None, [], {}, False):
                raise ValidationFailed(
                    f"'{name}' is not implemented by this server; send the request without it",
                    details={"field": name},
                )


class CheckpointConfig(Body):
    model_config = ConfigDict(extra="allow")

    thread_id: str | None = None
    checkpoint_ns: str | None = ""
    checkpoint_id: str | None = None
    checkpoint_map: dict[str, Any] | None = None


class Send(Body):
    node: str
    input: Any = None


class CommandBody(Body):
    update: dict[str, Any] | list[Any] | None = None
    resume: Any = None
    goto: Send | list[Send] | str | list[str] | None = None


class RunCreate(Body):
    """``RunCreateStateful`` and ``RunCreateStateless``, and the streaming variants' field."""

    assistant_id: str = Field(min_length=1, max_length=200)
    input: dict[str, Any] | list[Any] | str | float | bool | None = None
    command: CommandBody | None = None
    checkpoint: CheckpointConfig | None = None
    checkpoint_id: str | None = None
    metadata: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    webhook: str | None = None
    interrupt_before: Nodes | None = None
    interrupt_after: Nodes | None = None
    stream_mode: list[StreamMode] | StreamMode = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = False
    feedback_keys: list[str] | None = None
    multitask_strategy: Literal["reject", "rollback", "interrupt", "enqueue"] = "enqueue"
    if_not_exists: Literal["create", "reject"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    on_completion: Literal["delete", "keep"] = "delete"
    after_seconds: float | None = None
    checkpoint_during: bool | None = None
    durability: Literal["sync", "async", "exit"] | None = None
    strict_resume: bool | None = None
    langsmith_tracer: dict[str, Any] | None = None

    @property
    def modes(self) -> tuple[str, ...]:
        modes = [self.stream_mode] if isinstance(self.stream_mode, str) else self.stream_mode
        return tuple(dict.fromkeys(modes))


class ThreadCreate(Body):
    thread_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$", max_length=128)
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    ttl: dict[str, Any] | None = None
    supersteps: list[dict[str, Any]] | None = None
    graph_id: str | None = None  # older SDKs send it beside the metadata


class ThreadPatch(Body):
    metadata: dict[str, Any] | None = None
    ttl: dict[str, Any] | None = None


SortOrder = Literal["asc", "desc"]


class ThreadSearch(Body):
    ids: list[str] | None = None
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: (
        Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None
    ) = None
    sort_order: SortOrder | None = None
    select: list[str] | None = None
    extract: dict[str, Any] | None = None


class ThreadCount(Body):
    metadata: dict[str, Any] | None = None
    values: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None


class AssistantSearch(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: Literal["assistant_id", "created_at", "updated_at", "name", "graph_id"] | None = None
    sort_order: SortOrder | None = None
    select: list[str] | None = None


class AssistantCount(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None


class StateUpdate(Body):
    values: dict[str, Any] | list[Any] | None = None
    checkpoint: CheckpointConfig | None = None
    checkpoint_id: str | None = None
    as_node: str | None = None


class HistoryRequest(Body):
    limit: int = Field(10, ge=1, le=1000)
    before: CheckpointConfig | str | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: CheckpointConfig | None = None


class StateAtCheckpoint(Body):
    checkpoint: CheckpointConfig
    subgraphs: bool = False
