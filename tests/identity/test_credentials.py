"""Who a request is: service keys, user keys and JWTs (HS256, and RS256/ES256 through a JWKS
file or URL), and every way a credential is refused."""

from __future__ import annotations

import base64
import hmac
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from app.observability.logs import TextFormatter
from bench.openai_standin import OpenAIStandIn
from tests.conftest import ServerFactory
from tests.e2e.bodies import turn
from tests.identity.tokens import (
    AUDIENCE,
    ISSUER,
    SECRET,
    JwksServer,
    KeyPair,
    hs256,
    jwks,
)

GENERIC = "Send a valid credential"


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def _generate(url: str, body: dict[str, Any], credential: str | None) -> httpx.Response:
    headers = _bearer(credential) if credential else {}
    async with httpx.AsyncClient(base_url=url, timeout=20) as client:
        return await client.post("/generate", json=body, headers=headers)


def _msg(thread: str = "t1") -> dict[str, Any]:
    """A turn that names no userId: it is the credential's user's."""
    return {"threadId": thread, "message": {"content": "hi"}}


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _unsigned(sub: str = "alice") -> str:
    """An ``alg: none`` token: header and claims, no signature."""
    claims = {"sub": sub, "exp": int(time.time()) + 3600}
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


async def test_an_hs256_token_is_its_user(
    make_server: ServerFactory, upstream: OpenAIStandIn
) -> None:
    """The user comes from the token's sub; naming it again is fine, naming another is 403."""
    server = make_server(jwt_secret=SECRET)
    own = await _generate(server.url, {"message": {"content": "hi"}}, hs256("alice"))
    same = await _generate(server.url, turn("hi", user="alice", thread="t2"), hs256("alice"))
    other = await _generate(server.url, turn("hi", user="bob", thread="t3"), hs256("alice"))

    assert own.status_code == 200, own.text
    assert own.json()["metadata"]["userId"] == "alice"
    assert same.status_code == 200
    assert (other.status_code, other.json()["error"]["code"]) == (403, "user_mismatch")


def _valid(**claims: Any) -> str:
    return hs256("alice", **{"iss": ISSUER, "aud": AUDIENCE, **claims})


REFUSALS: dict[str, Callable[[], str | None]] = {
    "no header": lambda: None,
    "alg none": _unsigned,
    "forged signature": lambda: hs256(
        "alice", secret="another-secret-of-enough-length-0000000", iss=ISSUER, aud=AUDIENCE
    ),
    "expired": lambda: _valid(exp=int(time.time()) - 3600),
    "not yet valid": lambda: _valid(nbf=int(time.time()) + 3600),
    "wrong issuer": lambda: _valid(iss="https://evil.test"),
    "wrong audience": lambda: _valid(aud="someone-else"),
    "no exp": lambda: jwt.encode({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE}, SECRET),
    "no user claim": lambda: hs256("", iss=ISSUER, aud=AUDIENCE),
    "an unknown key": lambda: "not-a-key",
}


@pytest.mark.parametrize("name", list(REFUSALS))
async def test_refusals_are_401_with_the_envelope_and_the_reason_only_in_the_log(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    """Every bad credential: 401, WWW-Authenticate, one generic message; why is logged."""
    server = make_server(jwt_secret=SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    credential = REFUSALS[name]()
    with caplog.at_level(logging.INFO, logger="app.auth.credentials"):
        response = await _generate(server.url, {"message": {"content": "hi"}}, credential)
        accepted = await _generate(server.url, {"message": {"content": "hi"}}, _valid())

    assert accepted.status_code == 200, accepted.text  # the server does take good tokens
    assert response.status_code == 401, (name, response.text)
    assert response.headers["www-authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == "unauthorized"
    assert error["message"].startswith(GENERIC)
    assert "refused" in caplog.text
    if credential:
        assert credential not in caplog.text  # the log names the reason, never the token


async def test_hs_rs_confusion_is_refused(make_server: ServerFactory, tmp_path: Path) -> None:
    """A token 'signed' HS256 with the server's RSA public key as the secret is refused."""
    pair = KeyPair("k1")
    path = tmp_path / "jwks.json"
    path.write_text(jwks(pair))
    public_pem = pair.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT will not sign with a public key as an HMAC secret, so forge the token by hand.
    signing_input = ".".join(
        _b64(part)
        for part in (
            {"alg": "HS256", "typ": "JWT", "kid": "k1"},
            {"sub": "alice", "exp": int(time.time()) + 60},
        )
    )
    mac = hmac.new(public_pem, signing_input.encode(), "sha256").digest()
    forged = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    server = make_server(jwt_jwks_file=path)
    response = await _generate(server.url, _msg(), forged)
    genuine = await _generate(server.url, _msg("t2"), pair.token("alice"))
    assert response.status_code == 401
    assert genuine.status_code == 200, genuine.text


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
async def test_a_jwks_file_verifies_and_follows_rotation(
    make_server: ServerFactory, tmp_path: Path, algorithm: str
) -> None:
    """RS256 and ES256 tokens verify against the file; a new kid written to it is picked up."""
    first, second = KeyPair("k1", algorithm), KeyPair("k2", algorithm)
    path = tmp_path / "jwks.json"
    path.write_text(jwks(first))
    server = make_server(jwt_jwks_file=path)
    before = await _generate(server.url, _msg(), first.token("alice"))
    unknown = await _generate(server.url, _msg("t2"), second.token("alice"))
    path.write_text(jwks(first, second))
    stamp = path.stat().st_mtime + 5  # a new mtime, however coarse the file system's clock
    os.utime(path, (stamp, stamp))
    after = await _generate(server.url, _msg("t3"), second.token("alice"))

    assert before.status_code == 200, before.text
    assert unknown.status_code == 401
    assert after.status_code == 200, after.text
    assert after.json()["metadata"]["userId"] == "alice"


async def test_a_jwks_url_is_cached_and_refreshed_on_an_unknown_kid(
    make_server: ServerFactory,
) -> None:
    """Keys come from the URL once; a token with a rotated-in kid makes the server fetch again."""
    first, second = KeyPair("k1"), KeyPair("k2")
    with JwksServer(first).running() as served:
        server = make_server(jwt_jwks_url=served.url)
        one = await _generate(server.url, _msg(), first.token("alice"))
        two = await _generate(server.url, _msg("t2"), first.token("alice"))
        fetched = served.fetches
        served.keys = [first, second]
        rotated = await _generate(
            server.url,
            _msg("t3"),
            second.token(
                "bob",
            ),
        )

    assert (one.status_code, two.status_code) == (200, 200)
    assert fetched == 1
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["metadata"]["userId"] == "bob"
    assert served.fetches == 2


async def test_user_keys_are_their_users_and_service_keys_act_for_anyone(
    make_server: ServerFactory,
) -> None:
    """A user key is one user; a service key acts for the userId it names, and that user's own
    key then sees the same thread."""
    server = make_server(api_keys="svc-key", user_api_keys="alice-key:alice,bob-key:bob")
    by_service = await _generate(server.url, turn("hi", user="alice", thread="shared"), "svc-key")
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as client:
        mine = await client.get("/threads/shared/messages", headers=_bearer("alice-key"))
        theirs = await client.get("/threads/shared/messages", headers=_bearer("bob-key"))
    mismatch = await _generate(server.url, turn("hi", user="bob"), "alice-key")

    assert by_service.json()["metadata"]["userId"] == "alice"
    assert mine.status_code == 200
    assert [m["role"] for m in mine.json()["messages"]] == ["user", "assistant"]
    assert theirs.status_code == 404
    assert (mismatch.status_code, mismatch.json()["error"]["code"]) == (403, "user_mismatch")


async def test_no_credentials_configured_is_development_mode(
    make_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    """Without keys or JWT settings every request is served, and start-up says so."""
    with caplog.at_level(logging.INFO, logger="app"):
        server = make_server()
        response = await _generate(server.url, _msg(), None)
    assert response.status_code == 200
    assert "authentication: OFF (development mode" in caplog.text


def test_log_lines_name_the_principal_never_the_credential() -> None:
    """A turn's text log line carries the principal's label (user:alice), not a key."""
    record = logging.makeLogRecord({"msg": "turn", "levelname": "INFO", "name": "app"})
    record.requestId, record.userId, record.principal = "r1", "alice", "user:alice"
    line = TextFormatter().format(record)
    assert line.endswith("[requestId=r1 userId=alice principal=user:alice]")
