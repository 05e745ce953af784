"""AsyncioTransport behaves as httpx's own transport: timeouts, errors, keep-alive, TLS."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from bench.openai_standin import OpenAIStandIn, Reply
from model_client.transport import AsyncioBackend, AsyncioTransport


def test_transport_when_built_then_pool_uses_asyncio_backend() -> None:
    """The pool httpx built is replaced by one on our backend (pins httpx's private _pool)."""
    transport = AsyncioTransport()
    assert isinstance(transport._pool._network_backend, AsyncioBackend)


async def test_read_when_server_stalls_then_read_timeout(upstream: OpenAIStandIn) -> None:
    """A read that waits past the read timeout raises httpx.ReadTimeout."""
    upstream.enqueue(Reply(token_count=3, first_delay=0.5))
    timeout = httpx.Timeout(5, read=0.2)
    async with httpx.AsyncClient(transport=AsyncioTransport(), timeout=timeout) as client:
        with pytest.raises(httpx.ReadTimeout):
            async with client.stream(
                "POST", f"{upstream.base_url}/chat/completions", json={"stream": True}
            ) as response:
                async for _ in response.aiter_raw():
                    pass


async def test_requests_when_sequential_then_one_connection_reused(
    upstream: OpenAIStandIn,
) -> None:
    """Keep-alive: sequential requests share one pooled connection."""
    async with httpx.AsyncClient(transport=AsyncioTransport(), timeout=5) as client:
        for _ in range(3):
            response = await client.post(f"{upstream.base_url}/chat/completions", json={})
            assert response.status_code == 200
        assert len(client._transport._pool.connections) == 1  # type: ignore[attr-defined]


async def test_connect_when_port_closed_then_connect_error() -> None:
    """A refused connection raises httpx.ConnectError."""
    async with httpx.AsyncClient(transport=AsyncioTransport(), timeout=2) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://127.0.0.1:1/")


async def test_request_when_server_closed_idle_connection_then_reconnects() -> None:
    """An idle connection the server closed is noticed and replaced, not reused."""
    handlers: list[asyncio.Task[None]] = []

    async def answer_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.append(task)
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            await writer.drain()
            await asyncio.sleep(0.05)
        finally:
            writer.close()
            await writer.wait_closed()

    server = await asyncio.start_server(answer_then_close, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    try:
        async with httpx.AsyncClient(transport=AsyncioTransport(), timeout=2) as client:
            assert (await client.get(url)).text == "ok"
            await asyncio.sleep(0.2)
            assert (await client.get(url)).text == "ok"
        assert len(handlers) == 2  # a second connection, not the closed one
    finally:
        server.close()
        await asyncio.gather(*handlers, return_exceptions=True)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_tls_when_certificate_trusted_then_large_body_arrives_whole(
    certificate: tuple[Path, Path],
) -> None:
    """HTTPS works (start_tls), a body larger than the read buffer arrives whole, and an
    untrusted certificate is refused."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    body = b"x" * 300_000

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    url = f"https://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    try:
        trusted = ssl.create_default_context(cafile=str(cert))
        async with httpx.AsyncClient(transport=AsyncioTransport(verify=trusted)) as client:
            for _ in range(2):
                assert (await client.get(url)).content == body
        async with httpx.AsyncClient(transport=AsyncioTransport()) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get(url)
    finally:
        server.close()
