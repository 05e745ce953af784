"""Who makes a request: a principal, from the credential it carries.

- A service key (``API_KEYS``) may act for any ``userId`` the request names: a back end calling
  on its users' behalf.
- A user key (``USER_API_KEYS="key:user,..."``) or a JWT bearer token is one user; the request
  acts for that user only.
- With no credential configured at all, the server is in development mode: every request is an
  open principal that acts for whichever ``userId`` it names, as before authentication existed.

Refusals say only that the credential was not accepted; why goes to the server log.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt

from app.auth.principal import OPEN, Principal
from app.errors import Unauthenticated
from app.settings import Settings

log = logging.getLogger("app.auth.credentials")

# Clock skew allowed on exp and nbf, in seconds.
LEEWAY = 30
# JWT algorithms by key kind: a token names its algorithm, and only these are ever accepted.
_SECRET_ALGORITHMS = ("HS256",)
_PUBLIC_ALGORITHMS = ("RS256", "ES256")


class JwtVerifier:
    """Checks JWT bearer tokens: HS256 with a shared secret, RS256/ES256 with a JWKS."""

    def __init__(
        self,
        *,
        secret: str | None = None,
        jwks_file: Path | None = None,
        jwks_url: str | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        user_claim: str = "sub",
    ) -> None:
        self._secret = secret
        self._jwks_file = jwks_file
        self._jwks_url = jwks_url
        self._issuer = issuer
        self._audience = audience
        self._user_claim = user_claim
        self._keys: dict[str, jwt.PyJWK] = {}  # kid -> key, from the file or the URL
        self._file_mtime: float | None = None
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=False) if jwks_url else None
        self._refreshing: asyncio.Lock | None = None
        if jwks_file is not None:
            self._load_file()

    def _load_file(self) -> None:
        assert self._jwks_file is not None
        mtime = self._jwks_file.stat().st_mtime
        if mtime == self._file_mtime:
            return
        jwk_set = jwt.PyJWKSet.from_json(self._jwks_file.read_text())
        self._keys = {key.key_id: key for key in jwk_set.keys if key.key_id}
        self._file_mtime = mtime

    async def _public_key(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            return key
        # An unknown kid: the keys may have rotated. Read them again, once at a time.
        if self._refreshing is None:
            self._refreshing = asyncio.Lock()
        async with self._refreshing:
            if kid not in self._keys:
                if self._jwks_file is not None:
                    self._load_file()
                if self._client is not None and kid not in self._keys:
                    jwk_set = await asyncio.to_thread(self._client.get_jwk_set, True)
                    self._keys.update({k.key_id: k for k in jwk_set.keys if k.key_id})
        key = self._keys.get(kid)
        if key is None:
            raise jwt.InvalidTokenError(f"no key with kid {kid!r} in the JWKS")
        return key

    async def user(self, token: str) -> str:
        """The user the token names; raises ``jwt.InvalidTokenError`` (or a subclass)."""
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        key: Any
        if algorithm in _SECRET_ALGORITHMS and self._secret:
            key = self._secret
        elif algorithm in _PUBLIC_ALGORITHMS and (self._jwks_file or self._jwks_url):
            kid = header.get("kid")
            if not isinstance(kid, str):
                raise jwt.InvalidTokenError("the token names no kid")
            public = await self._public_key(kid)
            if public.algorithm_name != algorithm:
                raise jwt.InvalidAlgorithmError(
                    f"key {kid!r} is for {public.algorithm_name}, the token says {algorithm}"
                )
            key = public
        else:
            raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=self._issuer,
            audience=self._audience,
            leeway=LEEWAY,
            options={"require": ["exp"], "verify_aud": self._audience is not None},
        )
        user = claims.get(self._user_claim)
        if not isinstance(user, str) or not user or len(user) > 128:
            raise jwt.InvalidTokenError(f"claim {self._user_claim!r} is not a user id")
        return user


class Authenticator:
    """Turns a request's ``Authorization`` header into a :class:`Principal`."""

    def __init__(
        self,
        *,
        service_keys: Sequence[str] = (),
        user_keys: Mapping[str, str] | None = None,
        jwt_verifier: JwtVerifier | None = None,
    ) -> None:
        self._service = [k.encode() for k in service_keys]
        self._users = [(k.encode(), user) for k, user in (user_keys or {}).items()]
        self._jwt = jwt_verifier

    @property
    def enabled(self) -> bool:
        return bool(self._service or self._users or self._jwt)

    def describe(self) -> str:
        modes = []
        if self._service:
            modes.append(f"{len(self._service)} service key(s)")
        if self._users:
            modes.append(f"{len(self._users)} user key(s)")
        if self._jwt:
            modes.append("JWT")
        return ", ".join(modes) or "OFF (development mode: no API_KEYS, USER_API_KEYS or JWT_*)"

    async def authenticate(self, authorization: bytes | None) -> Principal:
        if not self.enabled:
            return OPEN
        refusal = Unauthenticated(
            "Send a valid credential as 'Authorization: Bearer <key or token>'."
        )
        if not authorization:
            log.info("refused: no Authorization header")
            raise refusal
        scheme, _, credential = authorization.partition(b" ")
        credential = credential.strip()
        if scheme.lower() != b"bearer" or not credential:
            log.info("refused: Authorization is not a bearer credential")
            raise refusal
        # Compare with every key, whatever matches, so timing says nothing about which.
        service = False
        for index, key in enumerate(self._service):
            if hmac.compare_digest(credential, key):
                service = True
                matched = index
        if service:
            return Principal("service", f"service#{matched + 1}")
        user: str | None = None
        for key, name in self._users:
            if hmac.compare_digest(credential, key):
                user = name
        if user is not None:
            return Principal("user", f"user:{user}", user)
        if self._jwt is not None and credential.count(b".") == 2:
            try:
                user = await self._jwt.user(credential.decode("ascii"))
            except (jwt.InvalidTokenError, jwt.PyJWKClientError, UnicodeDecodeError) as exc:
                log.warning("refused a JWT: %s: %s", type(exc).__name__, exc)
                raise refusal from None
            return Principal("user", f"user:{user}", user)
        log.warning("refused: the credential matches no key")
        raise refusal


def authenticator_for(settings: Settings) -> Authenticator:
    """The authenticator the settings describe; a bad JWKS file fails start-up loudly."""
    verifier = None
    if settings.jwt_secret or settings.jwt_jwks_file or settings.jwt_jwks_url:
        verifier = JwtVerifier(
            secret=settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
            jwks_file=settings.jwt_jwks_file,
            jwks_url=settings.jwt_jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            user_claim=settings.jwt_user_claim,
        )
    return Authenticator(
        service_keys=settings.api_key_list(),
        user_keys=settings.user_key_map(),
        jwt_verifier=verifier,
    )
