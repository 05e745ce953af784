"""Credentials for the identity tests: tokens minted with PyJWT, keys made on the spot, and a
JWKS served over loopback that the tests can rotate."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

SECRET = "test-hs256-secret-that-is-long-enough-for-hmac"
ISSUER = "https://issuer.test"
AUDIENCE = "agent-server"


def hs256(sub: str = "alice", *, secret: str = SECRET, **claims: Any) -> str:
    """An HS256 token for ``sub``, valid for an hour unless ``claims`` say otherwise."""
    return jwt.encode(_claims(sub, claims), secret, algorithm="HS256")


def _claims(sub: str, claims: dict[str, Any]) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + 3600}
    return {**base, **claims}


@dataclass
class KeyPair:
    """A signing key and its public JWK, for RS256 or ES256."""

    kid: str
    algorithm: str = "RS256"
    private: Any = field(init=False)

    def __post_init__(self) -> None:
        if self.algorithm == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())

    def jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.algorithm == "RS256" else ECAlgorithm
        public = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def token(self, sub: str = "alice", **claims: Any) -> str:
        return jwt.encode(
            _claims(sub, claims), self.private, algorithm=self.algorithm, headers={"kid": self.kid}
        )


def jwks(*pairs: KeyPair) -> str:
    return json.dumps({"keys": [pair.jwk() for pair in pairs]})


class JwksServer:
    """Serves a JWKS on loopback; ``keys`` can change between requests (rotation)."""

    def __init__(self, *pairs: KeyPair) -> None:
        self.keys = list(pairs)
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                body = jwks(*owner.keys).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/.well-known/jwks.json"

    @contextmanager
    def running(self) -> Iterator[JwksServer]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(5)
