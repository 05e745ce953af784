"""From a chat API request body to a :class:`~app.runs.spec.RunSpec`: the graph version, its
settings, and the message (or the answer to an interrupt) as the graph input.

Everything here is checked before the response starts, so a refusal gets a real status code.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage
from langgraph.types import Command
from pydantic import ValidationError

from app.api.chat.schemas import ChatRequest
from app.errors import GraphNotFound, ValidationFailed
from app.runs.spec import RunSpec
from app.settings import Settings
from graphs import (
    GraphSettings,
    GraphVersion,
    InvalidReference,
    Reference,
    Registry,
    UnknownGraph,
)


class Binder:
    """Binds request bodies to the registry's graph versions."""

    def __init__(self, settings: Settings, registry: Registry) -> None:
        self._settings = settings
        self._registry = registry

    def bind(self, body: ChatRequest, request_id: str, user_id: str) -> RunSpec:
        """The turn ``body`` asks for, acting for ``user_id`` (the request's principal's)."""
        received = time.perf_counter()
        graph = self.resolve(body)
        messages: tuple[BaseMessage, ...] = ()
        if body.message is None:  # it answers the pending interrupt
            graph_input: Any = Command(resume=body.resume)
        else:
            # A client retrying a request id replaces its own message instead of adding a copy.
            message = HumanMessage(self.text(body.message.content), id=f"{request_id}:user")
            graph_input, messages = graph.conversation.input(message), (message,)
        return RunSpec(
            request_id=request_id,
            thread_id=body.thread_id or uuid.uuid4().hex,
            user_id=user_id,
            agent_id=body.agent_id,
            graph=graph,
            settings=graph_settings(graph, body.graph_settings),
            input=graph_input,
            input_messages=messages,
            reply_after=messages[0].id if messages else None,
            received=received,
            resuming=body.resuming,
        )

    def resolve(self, body: ChatRequest) -> GraphVersion:
        return self.graph(body.graph_type, body.graph_settings.get("graphType"))

    def graph(self, top: str | None, inner: Any, fallback: str | None = None) -> GraphVersion:
        """The version a request names by its top-level ``graphType`` and its
        ``graphSettings.graphType`` (either a bare name or ``name::version``); ``fallback``
        (e.g. the thread's own graph), then the server's default, when it names none."""
        if inner is not None and not isinstance(inner, str):
            raise ValidationFailed("graphSettings.graphType must be a string like 'name::1.0.0'")
        try:
            if top and inner and Reference.parse(top).name != Reference.parse(inner).name:
                raise ValidationFailed(
                    f"graphType {top!r} and graphSettings.graphType {inner!r} name different "
                    "graphs; send one, or the same graph in both"
                )
            return self._registry.resolve(inner or top or fallback or self._settings.default_graph)
        except InvalidReference as exc:
            raise ValidationFailed(str(exc)) from None
        except UnknownGraph as exc:
            raise GraphNotFound(str(exc), details={"available": exc.available}) from None

    def text(
        self,
        content: str,
        where: str = "message.content",
        instead: str = "or 'resume' to answer a pending interrupt",
    ) -> str:
        """A user's message, checked: not blank, no null byte, within MAX_MESSAGE_CHARS.
        ``where`` names the field in the refusal, ``instead`` what else the body may send."""
        if not content.strip():
            raise ValidationFailed(
                f"{where} is empty: send the user's message as text, {instead}",
                details={"field": where},
            )
        if "\x00" in content:
            raise ValidationFailed(f"{where} contains a null byte", details={"field": where})
        if len(content) > self._settings.max_message_chars:
            raise ValidationFailed(
                f"{where} is {len(content)} characters; the limit is "
                f"{self._settings.max_message_chars}",
                details={"field": where},
            )
        return content


def graph_settings(graph: GraphVersion, raw: Mapping[str, Any]) -> GraphSettings:
    """``graphSettings`` (less ``graphType``) validated against the version's settings model."""
    values = {k: v for k, v in raw.items() if k != "graphType"}
    try:
        return graph.settings.model_validate(values)
    except ValidationError as exc:
        details = [
            {"loc": ["graphSettings", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        first = details[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(
            f"invalid settings for {graph.ref}: {where}: {first['msg']}", details=details
        ) from None
