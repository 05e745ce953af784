"""The public wire format: request bodies and the ``final`` payload (see the seed spec)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# Ids end up in Redis keys, logs and URLs: keep them to a safe, bounded alphabet.
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

SEED_STREAM_EXAMPLE: dict[str, Any] = {
    "requestId": "req-001",
    "threadId": "thread-001",
    "userId": "user-001",
    "agentId": "agent-001",
    "graphType": "streaming-chat",
    "graphSettings": {"graphType": "streaming-chat::1.0.0"},
    "message": {"content": "Tell me a story about a space explorer"},
}


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(min_length=1, description="The user's message")


class ChatRequest(BaseModel):
    """Body of ``POST /stream`` and ``POST /generate``."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [SEED_STREAM_EXAMPLE]})

    request_id: Id | None = Field(None, alias="requestId", description="Generated when absent")
    thread_id: Id | None = Field(None, alias="threadId", description="Generated when absent")
    user_id: Id | None = Field(
        None,
        alias="userId",
        description="Who the turn is for: a service key may name anyone; a user credential's own "
        "user is the default (another is 403 user_mismatch); without credentials, anonymous",
    )
    agent_id: Id | None = Field(None, alias="agentId")
    graph_type: str | None = Field(
        None, alias="graphType", max_length=200, description="A graph name; its default version"
    )
    graph_settings: dict[str, Any] = Field(
        default_factory=dict,
        alias="graphSettings",
        description="`graphType` (`name::semver`, wins over the top-level one) plus the "
        "version's settings",
    )
    message: Message | None = Field(None, description="The user's message; or send resume")
    resume: Any = Field(
        None,
        description="Instead of message: the answer to the thread's pending interrupt (any "
        'JSON; tool-agent\'s save_note takes "approve" or "decline")',
    )

    @model_validator(mode="after")
    def _message_or_resume(self) -> ChatRequest:
        has_resume = "resume" in self.model_fields_set
        if self.message is None and not has_resume:
            raise ValueError("send either 'message' (a new turn) or 'resume' (an answer)")
        if self.message is not None and has_resume:
            raise ValueError(
                "send 'message' or 'resume', not both: answer the pending interrupt first"
            )
        return self

    @property
    def resuming(self) -> bool:
        return "resume" in self.model_fields_set


class Usage(BaseModel):
    input_tokens: int = Field(alias="inputTokens")
    output_tokens: int = Field(alias="outputTokens")
    total_tokens: int = Field(alias="totalTokens")


class Timings(BaseModel):
    ttft_ms: float | None = Field(alias="ttftMs")
    total_ms: float = Field(alias="totalMs")


class FinalStep(BaseModel):
    """A tool step of the turn, as ``step_finished`` carried it."""

    id: str
    name: str
    input: Any
    output: str
    status: str = Field(description="success or error")


class FinalInterrupt(BaseModel):
    """What the graph asked when it stopped for an answer (``finishReason: interrupted``)."""

    id: str
    value: Any
    step_id: str | None = Field(
        None, alias="stepId", description="The tool step that asked, when a tool did"
    )


class FinalMetadata(BaseModel):
    request_id: str = Field(alias="requestId")
    thread_id: str = Field(alias="threadId")
    user_id: str = Field(alias="userId")
    agent_id: str | None = Field(alias="agentId")
    graph_type: str = Field(alias="graphType")
    model: str
    provider: str
    usage: Usage | None
    finish_reason: str | None = Field(
        alias="finishReason", description="stop, length, tool_calls, cancelled, interrupted"
    )
    timings: Timings
    steps: list[FinalStep] | None = Field(None, description="The turn's tool steps, if any")
    interrupt: FinalInterrupt | None = Field(
        None, description="Present when finishReason is interrupted: answer it with resume"
    )


class FinalResponse(BaseModel):
    """The ``final`` frame's data, and the body of ``POST /generate``."""

    text: str
    attachments: list[dict[str, Any]] = Field(
        description="What tools produced, typed: citation {title, source, snippet}, note "
        "{title, text}; button, card and image to come"
    )
    metadata: FinalMetadata


class StartResponse(BaseModel):
    """The body of ``POST /start``'s 202."""

    request_id: str = Field(alias="requestId")
    thread_id: str = Field(alias="threadId")
    stream_url: str = Field(
        alias="streamUrl",
        description="GET it (e.g. with EventSource) to follow the run; it replays what you "
        "missed after the Last-Event-ID you send",
    )


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
