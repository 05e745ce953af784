"""A deterministic chat model that needs no network, so the server runs out of the box.

It streams its reply word by word and says which turn of the thread this is, so thread memory
is visible without an API key.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

MODEL_NAME = "offline"
_WORDS = re.compile(r"\S+\s*")


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


def _usage(messages: Sequence[BaseMessage], reply: str) -> UsageMetadata:
    # Words stand in for tokens: the counts are honest about what was sent and received.
    prompt = sum(len(m.text.split()) for m in messages)
    completion = len(reply.split())
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
    }


class OfflineChatModel(BaseChatModel):
    """Streams :func:`offline_reply` one word at a time, ``token_delay`` seconds apart."""

    token_delay: float = 0.03
    # Stream on ainvoke, as the OpenAI clients the factory builds do (langchain streams a
    # model's ainvoke when ``streaming=True`` is passed to it explicitly).
    streaming: bool = True

    @property
    def _llm_type(self) -> str:
        return MODEL_NAME

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = offline_reply(messages)
        message = AIMessage(
            content=reply,
            usage_metadata=_usage(messages, reply),
            response_metadata={"finish_reason": "stop", "model_name": MODEL_NAME},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        reply = offline_reply(messages)
        for word in _WORDS.findall(reply):
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word))
            if run_manager is not None:
                await run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=_usage(messages, reply),
                response_metadata={"finish_reason": "stop", "model_name": MODEL_NAME},
                chunk_position="last",
            )
        )
