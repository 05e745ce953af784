"""A deterministic chat model that needs no network, so the server runs out of the box.

It streams its reply word by word and says which turn of the thread this is, so thread memory
is visible without an API key. Bound to tools (``bind_tools``), it calls them as a model would,
by simple rules on the user's message: arithmetic -> ``calculator``, "time" ->
``current_time``, "how do I" or "docs" -> ``search_docs``, "note" or "remember" ->
``save_note``; then it answers from the tools' results.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import uuid
import zoneinfo
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ToolCall,
    ToolCallChunk,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

MODEL_NAME = "offline"
_WORDS = re.compile(r"\S+\s*")
_ARITHMETIC = re.compile(
    r"[-(]*\d[\d.\s]*(?:\s*(?:\*\*|[-+*/%^x\u00d7\u00f7])\s*[-(]*\d[\d.)\s]*)+"
)
_ZONE = re.compile(r"\b([A-Z][a-z]+(?:_[A-Z][a-z]+)*/[A-Z][A-Za-z_]+)\b")
_CITY = re.compile(r"\b([A-Z][a-z]+(?:[ _][A-Z][a-z]+)*)\b")


@functools.cache
def _zones_by_city() -> dict[str, str]:
    """ "tokyo" -> "Asia/Tokyo", "new york" -> "America/New_York": the IANA zones named after a
    city, so that "What time is it in Tokyo?" asks for Tokyo's time."""
    zones: dict[str, str] = {}
    for zone in sorted(zoneinfo.available_timezones()):
        area, _, city = zone.rpartition("/")
        if area and area.split("/")[0] in _AREAS:
            zones.setdefault(city.replace("_", " ").lower(), zone)
    return zones


_AREAS = {
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
}


def _timezone_in(text: str) -> str:
    """The IANA zone a message names (``Asia/Tokyo``, or a city such as Tokyo), else UTC."""
    zone = _ZONE.search(text)
    if zone:
        return zone.group(1)
    cities = _zones_by_city()
    for match in _CITY.finditer(text):
        found = cities.get(match.group(1).replace("_", " ").lower())
        if found:
            return found
    return "UTC"


def offline_reply(messages: Sequence[BaseMessage]) -> str:
    """The reply for a conversation: names the turn, echoes the user and any system prompt."""
    human = [m for m in messages if m.type == "human"]
    system = [m for m in messages if m.type == "system"]
    said = human[-1].text if human else ""
    parts = [
        f"Offline model here (no OPENAI_API_KEY is set). This is turn {len(human)} of this thread.",
        f'You said: "{said}".',
    ]
    if system:
        parts.append(f'My instructions: "{system[-1].text}".')
    parts.append("Set OPENAI_API_KEY to talk to a real model.")
    return " ".join(parts)


def choose_tool(text: str, tools: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """The tool call the offline model makes for a user's message, if any."""
    lowered = text.lower()
    if "save_note" in tools and re.search(r"\b(note|remember)\b", lowered):
        body = re.sub(r"(?i)^.*?\b(note|remember)\b\s*(that|:)?\s*", "", text).strip() or text
        title = " ".join(body.split()[:5]).rstrip(".,;:!?") or "Note"
        return "save_note", {"title": title, "text": body}
    match = _ARITHMETIC.search(text)
    if "calculator" in tools and match and re.search(r"\d\s*\S*\s*\d", match.group()):
        expression = match.group().strip().replace("x", "*").replace("\u00d7", "*")
        expression = expression.replace("\u00f7", "/")
        return "calculator", {"expression": expression.rstrip("?.! ")}
    if "current_time" in tools and re.search(r"\btime\b", lowered):
        return "current_time", {"timezone": _timezone_in(text)}
    if "search_docs" in tools and re.search(r"how do i|\bdocs?\b|documentation", lowered):
        return "search_docs", {"query": text}
    return None


def answer_from_results(messages: Sequence[BaseMessage]) -> str:
    """An answer made of the last round's tool results."""
    results: list[ToolMessage] = []
    for message in reversed(messages):
        if not isinstance(message, ToolMessage):
            break
        results.insert(0, message)
    calls: dict[str, ToolCall] = {}
    for message in messages:
        if isinstance(message, AIMessage):
            calls.update({c["id"] or "": c for c in message.tool_calls})
    parts = []
    for result in results:
        call = calls.get(result.tool_call_id)
        name = call["name"] if call else result.name
        args = call["args"] if call else {}
        if result.status == "error":
            parts.append(f"The {name} tool failed: {result.text}")
        elif name == "calculator":
            parts.append(f"{args.get('expression', 'That')} = {result.text}.")
        elif name == "current_time":
            parts.append(f"It is {result.text} in {args.get('timezone', 'UTC')}.")
        elif name == "search_docs":
            first = result.text.split("\n\n", 1)[0]
            cut = first if len(first) <= 240 else first[:240].rsplit(" ", 1)[0] + " ..."
            parts.append(f"From the docs: {cut}")
        else:
            parts.append(result.text)
    return " ".join(parts) or "Done."


def _usage(messages: Sequence[BaseMessage], reply: str) -> UsageMetadata:
    # Words stand in for tokens: the counts are honest about what was sent and received.
    prompt = sum(len(m.text.split()) for m in messages)
    completion = len(reply.split())
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _tool_names(tools: Sequence[dict[str, Any]] | None) -> list[str]:
    return [t["function"]["name"] for t in tools or [] if "function" in t]


class OfflineChatModel(BaseChatModel):
    """Streams :func:`offline_reply` one word at a time, ``token_delay`` seconds apart."""

    token_delay: float = 0.03
    # Stream on ainvoke, as the OpenAI clients the factory builds do (langchain streams a
    # model's ainvoke when ``streaming=True`` is passed to it explicitly).
    streaming: bool = True

    @property
    def _llm_type(self) -> str:
        return MODEL_NAME

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _plan(
        self, messages: Sequence[BaseMessage], tools: Sequence[dict[str, Any]] | None
    ) -> tuple[str, tuple[str, dict[str, Any]] | None]:
        """The reply's text and the tool call it makes, if any."""
        last = messages[-1] if messages else None
        if tools and isinstance(last, ToolMessage):
            return answer_from_results(messages), None
        if tools and last is not None and last.type == "human":
            call = choose_tool(last.text, _tool_names(tools))
            if call is not None:
                return "", call
        return offline_reply(messages), None

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply, call = self._plan(messages, kwargs.get("tools"))
        message = AIMessage(
            content=reply,
            tool_calls=[ToolCall(name=call[0], args=call[1], id=_call_id())] if call else [],
            usage_metadata=_usage(messages, reply or json.dumps(call[1] if call else "")),
            response_metadata={
                "finish_reason": "tool_calls" if call else "stop",
                "model_name": MODEL_NAME,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        reply, call = self._plan(messages, kwargs.get("tools"))
        pieces: list[AIMessageChunk] = [
            AIMessageChunk(content=word) for word in _WORDS.findall(reply)
        ]
        if call is not None:
            name, args = call
            arguments = json.dumps(args)
            # The name and id first, then the arguments in a few pieces, as vendors stream them.
            pieces.append(
                AIMessageChunk(
                    content="",
                    tool_call_chunks=[ToolCallChunk(name=name, args="", id=_call_id(), index=0)],
                )
            )
            step = max(1, len(arguments) // 3)
            for start in range(0, len(arguments), step):
                pieces.append(
                    AIMessageChunk(
                        content="",
                        tool_call_chunks=[
                            ToolCallChunk(
                                name=None, args=arguments[start : start + step], id=None, index=0
                            )
                        ],
                    )
                )
        for piece in pieces:
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            chunk = ChatGenerationChunk(message=piece)
            if run_manager is not None:
                await run_manager.on_llm_new_token(piece.text, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=_usage(messages, reply or json.dumps(call[1] if call else "")),
                response_metadata={
                    "finish_reason": "tool_calls" if call else "stop",
                    "model_name": MODEL_NAME,
                },
                chunk_position="last",
            )
        )


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"
