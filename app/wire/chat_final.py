"""The chat API's ``final`` payload as a model: the body of ``event: final`` and of
``POST /generate`` (see the seed spec), with what a run adds to it (steps, an interrupt)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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
