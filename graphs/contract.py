"""What a graph version promises the server, written down rather than guessed.

The server relies on nothing about a graph beyond :class:`GraphVersion`: its settings model
(validated from the request's ``graphSettings`` and handed to the graph as its runtime
context), how to build its ``StateGraph`` from a :class:`ChatModelFactory`, and its
:class:`Conversation`: how a turn's message becomes graph input, which nodes stream text to the
user, and where in the state the turn's reply is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.graph import StateGraph

from graphs.settings import GraphSettings
from graphs.versions import Version

__all__ = [
    "Builder",
    "ChatModelFactory",
    "Conversation",
    "GraphVersion",
    "StepLimitExceeded",
    "idempotency_key",
]


class StepLimitExceeded(RuntimeError):
    """A graph's own step budget for one turn ran out; the server reports ``max_steps``.

    Raise it from a node *instead of* writing the message that would exceed the budget, so the
    thread keeps only complete steps (every tool call with its result)."""


class ChatModelFactory(Protocol):
    """Gives a node a chat model. The server passes one in; graphs import no model client."""

    def __call__(
        self, model: str, *, temperature: float | None = None, max_tokens: int | None = None
    ) -> BaseChatModel: ...


Builder = Callable[[ChatModelFactory], StateGraph[Any, Any, Any, Any]]


@dataclass(frozen=True)
class Conversation:
    """How a turn meets a graph whose state keeps the conversation as a list of messages.

    - ``key``: the state key holding the messages (a list with LangGraph's ``add_messages``
      reducer, as in ``MessagesState``).
    - ``stream_nodes``: the nodes whose chat-model text is streamed to the user as it is
      written. Text from any other node (or from a subgraph) is not streamed.
    - ``reply_node``: the node that writes the reply. A cancelled turn's partial reply is saved
      as if this node had written it, so the graph continues from there next turn. Defaults to
      the only stream node.
    """

    stream_nodes: Sequence[str]
    key: str = "messages"
    reply_node: str | None = None

    def __post_init__(self) -> None:
        if not self.stream_nodes:
            raise ValueError("Conversation needs at least one stream node")
        object.__setattr__(self, "stream_nodes", tuple(self.stream_nodes))
        if self.reply_node is None:
            if len(self.stream_nodes) != 1:
                raise ValueError("Conversation with several stream nodes must name reply_node")
            object.__setattr__(self, "reply_node", self.stream_nodes[0])

    def input(self, message: HumanMessage) -> dict[str, Any]:
        """The graph input for a turn that starts with the user's ``message``."""
        return {self.key: [message]}

    def messages(self, values: Mapping[str, Any]) -> list[BaseMessage]:
        """The conversation held in the state ``values``."""
        return list(values.get(self.key) or [])

    def turn_messages(self, values: Mapping[str, Any], message_id: str | None) -> list[BaseMessage]:
        """What came after the user's message ``message_id`` (``None``: the last user
        message, for a turn that resumed an interrupted one): the turn's own messages."""
        messages = self.messages(values)
        for index in range(len(messages) - 1, -1, -1):
            message = messages[index]
            if message.id == message_id or (message_id is None and message.type == "human"):
                return messages[index + 1 :]
        return []

    def reply(self, values: Mapping[str, Any], message_id: str | None) -> AIMessage | None:
        """The turn's answer: its last AI message, if the turn ended on one."""
        turn = self.turn_messages(values, message_id)
        if turn and isinstance(turn[-1], AIMessage):
            return turn[-1]
        return None

    def update(self, messages: Sequence[BaseMessage]) -> dict[str, Any]:
        """A state update that adds (or, by id, replaces) ``messages``."""
        return {self.key: list(messages)}


@dataclass(frozen=True)
class GraphVersion:
    """One version of one graph: everything the server may rely on about it."""

    name: str
    version: Version
    settings: type[GraphSettings]
    build: Builder = field(compare=False)
    conversation: Conversation
    description: str = ""
    default: bool = False
    # The graph may call LangGraph's interrupt() to ask the user something; the server then
    # ends the turn as interrupted and the next request answers it with "resume".
    interrupts: bool = False

    @property
    def ref(self) -> str:
        return f"{self.name}::{self.version}"


def idempotency_key(config: Mapping[str, Any], tool_call_id: str) -> str:
    """The same string every time one tool call runs, for a tool with side effects to pass to
    the service it calls (as an ``Idempotency-Key``) or to check before acting again.

    A tool call may run twice: when the server running a turn dies during a tool step, another
    server takes the turn over from the thread's last checkpoint, and the step in flight runs
    again with the same tool call (its id comes from the model's message, which that
    checkpoint holds). ``config`` is the tool's ``RunnableConfig`` (a ``config:
    RunnableConfig`` parameter), ``tool_call_id`` its ``Annotated[str, InjectedToolCallId]``."""
    thread_id = config.get("configurable", {}).get("thread_id", "")
    return f"{thread_id}:{tool_call_id}"
