"""The body ``useChat``'s ``DefaultChatTransport`` posts: ``{id, messages, trigger, messageId?}``
(UIMessages with parts), plus our ``graphType`` and ``graphSettings``. Parts are loose objects,
as the SDK's own are: a part type we do not read passes through unread."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.api.params import Id


class Approval(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(max_length=200)
    approved: bool | None = None
    reason: str | None = Field(None, max_length=2000)


class UIPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = Field(max_length=200)
    text: str | None = None
    toolCallId: str | None = Field(None, max_length=200)
    state: str | None = Field(None, max_length=64)
    approval: Approval | None = None


class UIMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    role: Literal["system", "user", "assistant"]
    parts: list[UIPart]


class UIChatRequest(BaseModel):
    """Body of ``POST /api/chat``."""

    model_config = ConfigDict(extra="ignore")

    id: Id = Field(description="The chat's id: the thread it continues (or starts)")
    messages: list[UIMessage] = Field(
        min_length=1,
        description="The client's messages; only what the thread does not hold yet is read: "
        "the last user message, or the last assistant message's approval answers",
    )
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    message_id: str | None = Field(None, alias="messageId", max_length=200)
    user_id: Id | None = Field(
        None, alias="userId", description="Who the turn is for (as the chat API's userId)"
    )
    graph_type: str | None = Field(
        None,
        alias="graphType",
        max_length=200,
        description="A graph name or name::version; the thread's own graph, or the default",
    )
    graph_settings: dict[str, Any] = Field(default_factory=dict, alias="graphSettings")
    resume: Any = Field(
        None,
        description="The answer to a pending interrupt no tool raised (a data-interrupt part), "
        "as the chat API's resume: sendMessage(undefined, {body: {resume}}) continues the "
        "assistant message",
    )

    @property
    def resuming(self) -> bool:
        return "resume" in self.model_fields_set
