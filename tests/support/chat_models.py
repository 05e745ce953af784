"""ChatOpenAI and FastChatOpenAI side by side, and a raw server for streams the stand-in lacks."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from langchain_openai import ChatOpenAI

from model_client.fast_openai import FastChatOpenAI

# The fields every scripted chat.completion.chunk carries, for building raw streams.
CHUNK_HEAD = b'"id":"c1","object":"chat.completion.chunk","created":1,"model":"m"'


def model_pair(
    base_url: str, http: httpx.AsyncClient, **extra: Any
) -> tuple[ChatOpenAI, ChatOpenAI]:
    """The reference ``ChatOpenAI`` and our ``FastChatOpenAI``, configured alike."""
    kwargs: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "streaming": True,
        "stream_usage": True,
        "api_key": "test-key",
        "base_url": base_url,
        "max_retries": 2,
        "timeout": 5,
        "http_async_client": http,
        **extra,
    }
    return ChatOpenAI(**kwargs), FastChatOpenAI(**kwargs)


async def raw_sse_server(body: bytes) -> tuple[asyncio.Server, str]:
    """A one-shot server answering any request with ``body`` as an event stream."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        await reader.readexactly(length)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1"
