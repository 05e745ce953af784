"""The chat API's bodies: the request of ``/stream``, ``/generate`` and ``/start`` (see the seed
spec), and ``/start``'s answer."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.api.params import Id

CHAT_STREAM_EXAMPLE: dict[str, Any] = {
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

    # Not min_length: an empty message and a blank one get the binder's one refusal.
    content: str = Field(description="The user's message (not empty nor blank)")


class ChatRequest(BaseModel):
    """Body of ``POST /stream`` and ``POST /generate``."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [CHAT_STREAM_EXAMPLE]})

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


class StartResponse(BaseModel):
    """The body of ``POST /start``'s 202."""

    request_id: str = Field(alias="requestId")
    thread_id: str = Field(alias="threadId")
    stream_url: str = Field(
        alias="streamUrl",
        description="GET it (e.g. with EventSource) to follow the run; it replays what you "
        "missed after the Last-Event-ID you send",
    )
