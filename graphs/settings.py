"""Settings pieces any graph may reuse: the base every version's settings extend, and the
model settings a graph that calls a chat model usually wants."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from graphs.contract import ChatModelFactory

__all__ = ["GraphSettings", "ModelSettings"]


class GraphSettings(BaseModel):
    """Base of every version's settings: camelCase on the wire, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ModelSettings(GraphSettings):
    """Which chat model a graph calls, and how."""

    model: str = Field("gpt-4o-mini", min_length=1, max_length=128, description="Model name")
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature")
    max_tokens: int | None = Field(
        None, alias="maxTokens", ge=1, le=65536, description="Upper bound on reply tokens"
    )
    system_prompt: str | None = Field(
        None, alias="systemPrompt", max_length=8000, description="Applied on every call"
    )

    def chat_model(self, models: ChatModelFactory) -> BaseChatModel:
        """The chat model these settings ask for."""
        return models(self.model, temperature=self.temperature, max_tokens=self.max_tokens)
