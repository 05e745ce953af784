"""``ChatOpenAI`` with a cheaper async token stream: the same request, a leaner read of the reply.

``ChatOpenAI._astream`` turns every streamed token into the SDK's pydantic chunk model, dumps it
back to a dict, and waits for it through ``asyncio.wait_for`` (a new task per token on Python
3.11) to enforce ``stream_chunk_timeout``. :class:`FastChatOpenAI` keeps the SDK for the request
itself (URL, headers, retries with back-off, HTTP errors mapped to ``openai`` exceptions) and
reads the body with ``orjson``, one ``data:`` event at a time. A bare content delta (nearly
every chunk) becomes the ``AIMessageChunk`` that ``ChatOpenAI`` would make of it, built
directly; any other chunk (role, tools, finish reason, usage) takes ``ChatOpenAI``'s own path
through the SDK's model and ``_convert_chunk_to_generation_chunk``. So the message chunks,
usage, finish reason and errors are the ones ``ChatOpenAI`` produces. The chunk timeout is
enforced per read with ``asyncio.timeout_at``.

Anything but a plain chat-completions stream (the Responses API, ``response_format``, response
headers, gateways) goes to ``ChatOpenAI`` unchanged, as does every sync call.

``ainvoke`` on a streaming model (what a graph node does) makes ``BaseChatModel`` keep every
chunk of the reply until it ends and merge them then: about a kilobyte per token, so hundreds
of concurrent replies hold tens of megabytes. :meth:`FastChatOpenAI._agenerate_with_cache`
merges them as they come instead, with the same ``+``, so the message and the callbacks are
the ones ``BaseChatModel`` produces.

A long thread sends the same history on every call: the request's messages are built through
:mod:`model_client.wire_cache` (each message converted once while it stays unchanged) and go
to the SDK as ``extra_body``, which it sends as given rather than walking every message
against its types again. ``reuse_message_wire=False`` turns both off.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import typing
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Mapping
from typing import Any

import anyio
import httpx
import openai
import orjson
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.globals import get_llm_cache
from langchain_core.language_models.chat_models import generate_from_stream
from langchain_core.messages import AIMessageChunk, BaseMessage, BaseMessageChunk
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.utils.utils import LC_ID_PREFIX
from langchain_openai import ChatOpenAI, StreamChunkTimeoutError
from openai.types.chat import ChatCompletionChunk

from model_client._private import (
    _gen_info_and_msg_metadata,
    _handle_openai_api_error,
    _handle_openai_bad_request,
)
from model_client.merged_reply import MergedReply
from model_client.token_callbacks import TokenNotifier
from model_client.wire_cache import shared_cache

__all__ = ["FastChatOpenAI"]

logger = logging.getLogger(__name__)

# Chunks closer together than this (seconds) came out of a buffer, not off the wire.
_BURST = 0.0005
# How many of a reply's first chunks are handed on one loop turn at a time in a burst.
_EAGER = 8

try:  # openai>=3 reads with httpx2 unless handed an httpx client, as model_client.factory does.
    import httpx2

    _TIMEOUTS: tuple[type[Exception], ...] = (httpx.TimeoutException, httpx2.TimeoutException)
    _TRANSPORT: tuple[type[Exception], ...] = (httpx.RequestError, httpx2.RequestError)
except ImportError:  # pragma: no cover - openai<3
    _TIMEOUTS, _TRANSPORT = (httpx.TimeoutException,), (httpx.RequestError,)
# What the SDK's own stream maps onto APIConnectionError while reading a body.
_TRANSPORT = (*_TRANSPORT, ssl.SSLError, anyio.EndOfStream)


class FastChatOpenAI(ChatOpenAI):
    """A drop-in ``ChatOpenAI`` whose async streaming skips the SDK's per-chunk models."""

    reuse_message_wire: bool = True
    """Convert each unchanged message once, and hand the SDK the request's messages as built."""

    def _get_request_payload(
        self,
        input_: Any,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """``ChatOpenAI``'s payload, its messages taken from the wire cache where unchanged."""
        parent = super()._get_request_payload
        if not self.reuse_message_wire or not (
            isinstance(input_, list) and all(isinstance(m, BaseMessage) for m in input_)
        ):
            return parent(input_, stop=stop, **kwargs)
        payload = parent([], stop=stop, **kwargs)
        if "messages" not in payload:  # the Responses API shapes its own input
            return parent(input_, stop=stop, **kwargs)

        def convert(missed: list[BaseMessage]) -> list[dict[str, Any]]:
            converted: list[dict[str, Any]] = parent(missed, stop=stop, **kwargs)["messages"]
            return converted

        payload["messages"] = shared_cache().convert(self.model_name or "", input_, convert)
        return payload

    async def _agenerate_with_cache(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """``BaseChatModel``'s streaming branch (no cache, no rate limiter, output version v0,
        not the v2 protocol), merging the reply's chunks as they arrive; anything else is
        ``BaseChatModel``'s own."""
        if (
            not (self.cache is False or (self.cache is None and get_llm_cache() is None))
            or self.rate_limiter is not None
            or self.output_version == "v1"
            or self._should_use_protocol_streaming(
                async_api=True, run_manager=run_manager, **kwargs
            )
            or not self._should_stream(async_api=True, run_manager=run_manager, **kwargs)
        ):
            return await super()._agenerate_with_cache(messages, stop, run_manager, **kwargs)
        run_id = f"{LC_ID_PREFIX}-{run_manager.run_id}" if run_manager else None
        reply = MergedReply()
        chunk: ChatGenerationChunk | None = None
        notifier = TokenNotifier(run_manager) if run_manager else None
        direct = notifier is not None and notifier.direct
        async for chunk in self._astream(messages, stop=stop, **kwargs):
            chunk.message.response_metadata = _gen_info_and_msg_metadata(chunk)
            if notifier is not None:
                if chunk.message.id is None:
                    chunk.message.id = run_id
                if direct:  # the common case, without an await per token
                    notifier.call(chunk.message.content, chunk=chunk)
                else:
                    await notifier.notify(chunk.message.content, chunk=chunk)
            reply.add(chunk)
        if (
            chunk is not None
            and isinstance(chunk.message, AIMessageChunk)
            and not chunk.message.chunk_position
        ):
            empty: str | list[str | dict[str, Any]] = (
                "" if isinstance(chunk.message.content, str) else []
            )
            chunk = ChatGenerationChunk(
                message=AIMessageChunk(content=empty, chunk_position="last", id=run_id)
            )
            if notifier is not None:
                await notifier.notify("", chunk=chunk)
            reply.add(chunk)
        result = generate_from_stream(iter(reply.chunks()))
        for idx, generation in enumerate(result.generations):
            if run_manager and generation.message.id is None:
                generation.message.id = f"{LC_ID_PREFIX}-{run_manager.run_id}-{idx}"
            generation.message.response_metadata = _gen_info_and_msg_metadata(generation)
        if len(result.generations) == 1 and result.llm_output is not None:
            result.generations[0].message.response_metadata = {
                **result.llm_output,
                **result.generations[0].message.response_metadata,
            }
        return result

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        *,
        stream_usage: bool | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request = dict(kwargs, stream=True)
        stream_usage = self._should_stream_usage(stream_usage, **request)
        if stream_usage:
            request["stream_options"] = {"include_usage": stream_usage}
        payload = self._get_request_payload(messages, stop=stop, **request)
        if (
            self._use_responses_api({**kwargs, **self.model_kwargs})
            or "response_format" in payload
            or self.include_response_headers
            or self._uses_gateway
        ):
            parent = super()._astream(
                messages, stop, run_manager, stream_usage=stream_usage, **kwargs
            )
            async for item in parent:
                yield item
            return

        # One generator from socket to caller: every layer of async iteration costs per token.
        limit = self.stream_chunk_timeout if self.stream_chunk_timeout else None
        loop = asyncio.get_running_loop()
        previous = loop.time()
        default_chunk_class: type[BaseMessageChunk] = AIMessageChunk
        received = 0
        try:
            async with self.async_client.with_streaming_response.create(
                **_sent_as_built(payload) if self.reuse_message_wire else payload
            ) as api:
                response = api.http_response
                body = _body(response)
                buffer = b""
                watchdog = _ChunkWatchdog(limit) if limit is not None and limit > 0 else None
                try:
                    while True:
                        try:
                            if watchdog is None:
                                data = await anext(body)
                            else:
                                data = await watchdog.wait(anext(body))
                        except StopAsyncIteration:
                            break
                        except _ChunkTimeout:
                            _log_chunk_timeout(limit, self.model_name, received)
                            raise StreamChunkTimeoutError(
                                limit or 0, model_name=self.model_name, chunks_received=received
                            ) from None
                        buffer += data
                        if b"\r" in buffer:
                            buffer = _normalise_newlines(buffer)
                        if b"\n\n" not in buffer:
                            continue
                        *events, buffer = buffer.split(b"\n\n")
                        for event in events:
                            payload_bytes = _event_data(event)
                            if payload_bytes is None:
                                continue
                            if payload_bytes.startswith(b"[DONE]"):
                                # Read the rest: the HTTP/1.1 connection goes back to the pool.
                                async for _ in body:
                                    pass
                                return
                            received += 1
                            chunk = orjson.loads(payload_bytes)
                            generation = self._plain_generation(chunk, default_chunk_class)
                            if generation is None:
                                _raise_stream_error(chunk, response.request)
                                _index_tool_calls(chunk)
                                # The SDK's model fills in absent fields (logprobs' refusal, a
                                # function call's name); ChatOpenAI converts its dump. Base
                                # generation info only holds response headers: parent path.
                                generation = self._convert_chunk_to_generation_chunk(
                                    ChatCompletionChunk.construct(**chunk).model_dump(),
                                    default_chunk_class,
                                    {},
                                )
                                if generation is None:
                                    continue
                            default_chunk_class = generation.message.__class__
                            if run_manager:
                                info = generation.generation_info
                                await run_manager.on_llm_new_token(
                                    generation.text,
                                    chunk=generation,
                                    logprobs=info.get("logprobs") if info else None,
                                )
                            yield generation
                            if watchdog is not None:
                                watchdog.asked()  # the caller wants the next chunk
                            if received <= _EAGER:
                                now = loop.time()
                                if now - previous < _BURST:
                                    # The first chunks came in a burst (buffered, so reads do
                                    # not wait): let the loop carry each on towards the client
                                    # before taking the next, or the first token would wait for
                                    # the whole burst. Later bursts are handed on in batches.
                                    await asyncio.sleep(0)
                                previous = now
                except _TIMEOUTS as exc:
                    raise openai.APITimeoutError(request=response.request) from exc
                except _TRANSPORT as exc:
                    raise openai.APIConnectionError(request=response.request) from exc
                finally:
                    if watchdog is not None:
                        watchdog.close()
        except openai.BadRequestError as exc:
            _handle_openai_bad_request(exc)
        except openai.APIError as exc:
            _handle_openai_api_error(exc)

    def _plain_generation(
        self, chunk: Any, default_chunk_class: type[BaseMessageChunk]
    ) -> ChatGenerationChunk | None:
        """What ``_convert_chunk_to_generation_chunk`` makes of a bare content delta (no role
        change, tools, finish reason, logprobs or usage), built directly; else ``None``."""
        if default_chunk_class is not AIMessageChunk or not isinstance(chunk, dict):
            return None
        choices = chunk.get("choices")
        if not choices or len(choices) != 1 or chunk.get("usage") or chunk.get("type"):
            return None
        choice = choices[0]
        delta = choice.get("delta")
        if (
            not isinstance(delta, dict)
            or choice.get("finish_reason")
            or choice.get("logprobs")
            or delta.get("tool_calls")
            or delta.get("function_call")
            or delta.get("role") not in (None, "assistant")
        ):
            return None
        metadata = {"model_provider": "openai"}
        if self.output_version == "v1":
            metadata["output_version"] = "v1"
        message = AIMessageChunk(
            content=delta.get("content") or "", id=delta.get("id"), response_metadata=metadata
        )
        return ChatGenerationChunk(message=message)


def _sent_as_built(payload: dict[str, Any]) -> dict[str, Any]:
    """The SDK's arguments with the messages in ``extra_body``: it merges that into the JSON body
    over its own fields ("the second mapping takes precedence") without transforming it, so the
    body is the same and the history is not walked again. A caller's own ``extra_body`` still
    wins, as it would over the SDK's fields."""
    args = dict(payload)
    extra = {"messages": args.pop("messages"), **(args.pop("extra_body", None) or {})}
    return {**args, "messages": [], "extra_body": extra}


def _body(response: Any) -> AsyncIterator[bytes]:
    """The response's bytes: straight from httpx's stream when not content-encoded, which
    saves two generator layers per read (``aiter_bytes`` over ``aiter_raw``)."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    stream = getattr(response, "stream", None)
    if encoding == "identity" and isinstance(stream, AsyncIterable):
        return aiter(stream)
    return typing.cast(AsyncIterator[bytes], response.aiter_bytes())


class _ChunkTimeout(Exception):
    pass


class _ChunkWatchdog:
    """``stream_chunk_timeout`` as ChatOpenAI means it: each wait for the next chunk, counted
    from when the caller asked for it, is bounded; time the caller spends between chunks is
    not. One timer per stream that re-arms itself lazily, instead of a timeout per read."""

    def __init__(self, limit: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._limit = limit
        self._asked = self._loop.time()
        self._task: asyncio.Task[Any] | None = None  # set while waiting
        self._expired = False
        self._timer: asyncio.TimerHandle | None = self._loop.call_at(
            self._asked + limit, self._check
        )

    def asked(self) -> None:
        self._asked = self._loop.time()

    async def wait(self, read: Awaitable[bytes]) -> bytes:
        self._task = asyncio.current_task()
        try:
            return await read
        except asyncio.CancelledError:
            task = self._task
            if self._expired and task is not None and task.uncancel() == 0:
                raise _ChunkTimeout from None
            raise
        finally:
            self._task = None

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check(self) -> None:
        now = self._loop.time()
        due = self._asked + self._limit
        if self._task is None:
            # Not waiting: a wait that starts later cannot expire before `limit` from now.
            self._timer = self._loop.call_at(now + self._limit, self._check)
        elif now < due:
            self._timer = self._loop.call_at(due, self._check)  # asked again since
        else:
            self._expired = True
            self._timer = None
            self._task.cancel()


def _index_tool_calls(chunk: Any) -> None:
    """Give tool-call deltas that come without an ``index`` (vendors that stream one call that
    way) their position, so the deltas merge into one call instead of several broken ones."""
    for choice in chunk.get("choices") or () if isinstance(chunk, dict) else ():
        delta = choice.get("delta") if isinstance(choice, dict) else None
        calls = delta.get("tool_calls") if isinstance(delta, dict) else None
        if isinstance(calls, list):
            for position, call in enumerate(calls):
                if isinstance(call, dict) and call.get("index") is None:
                    call["index"] = position


def _raise_stream_error(chunk: Any, request: Any) -> None:
    """An ``{"error": ...}`` event mid-stream is an ``openai.APIError``, as the SDK has it."""
    if isinstance(chunk, Mapping) and chunk.get("error"):
        error = chunk["error"]
        message = error.get("message") if isinstance(error, Mapping) else None
        if not message or not isinstance(message, str):
            message = "An error occurred during streaming"
        raise openai.APIError(message=message, request=request, body=error)


def _log_chunk_timeout(limit: float | None, model_name: str | None, received: int) -> None:
    # The same record as ChatOpenAI's, so that dashboards built on it keep working.
    logger.warning(
        "langchain_openai.stream_chunk_timeout fired",
        extra={
            "source": "stream_chunk_timeout",
            "timeout_s": limit,
            "model_name": model_name,
            "chunks_received": received,
        },
    )


def _normalise_newlines(buffer: bytes) -> bytes:
    """CRLF and CR line ends as LF; a trailing CR waits for the next read (it may be a CRLF)."""
    held = b"\r" if buffer.endswith(b"\r") else b""
    if held:
        buffer = buffer[:-1]
    return buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + held


def _event_data(event: bytes) -> bytes | None:
    if event.startswith(b"data: ") and b"\n" not in event:
        return event[6:]  # the common case: one data line
    lines: list[bytes] = []
    for line in event.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        name, _, value = line.partition(b":")
        if name == b"data":
            lines.append(value[1:] if value.startswith(b" ") else value)
    return b"\n".join(lines) if lines else None
