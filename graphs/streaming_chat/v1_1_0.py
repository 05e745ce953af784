"""streaming-chat 1.1.0: adds a ``style`` persona that shapes every reply."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import StateGraph
from pydantic import Field

from graphs.contract import ChatModelFactory, GraphVersion
from graphs.settings import ModelSettings
from graphs.streaming_chat.chat import CONVERSATION, build_chat_graph
from graphs.versions import Version

Style = Literal["neutral", "concise", "friendly", "pirate"]

STYLE_PROMPTS: dict[str, str] = {
    "neutral": "",
    "concise": "Answer in as few words as will do.",
    "friendly": "Answer warmly, like a helpful friend.",
    "pirate": "Answer in the voice of a pirate.",
}


class Settings(ModelSettings):
    """streaming-chat 1.1.0 settings: 1.0.0's plus a persona."""

    style: Style = Field("neutral", description="Persona applied to every reply")


def system_prompt(settings: Settings) -> str | None:
    parts = [STYLE_PROMPTS[settings.style], settings.system_prompt or ""]
    return "\n\n".join(p for p in parts if p) or None


def build(models: ChatModelFactory) -> StateGraph[Any, Any, Any, Any]:
    return build_chat_graph(models, Settings, system_prompt)


GRAPH = GraphVersion(
    name="streaming-chat",
    version=Version(1, 1, 0),
    settings=Settings,
    build=build,
    conversation=CONVERSATION,
    # The default since before defaults were explicit: bare `streaming-chat` meant the newest.
    default=True,
    description="Chat with a persona (style): neutral, concise, friendly or pirate.",
)
