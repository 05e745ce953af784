"""Server settings, read from the environment and ``.env`` when ``create_app()`` runs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting is an environment variable of the same name (see ``.env.example``)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # A blank line in .env (as .env.example ships) means "use the default".
        env_ignore_empty=True,
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"

    # Model provider (any OpenAI-compatible chat-completions server).
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    upstream_max_retries: int = Field(2, ge=0, le=10)
    upstream_first_token_timeout: float = Field(30.0, gt=0, description="seconds")
    upstream_timeout: float = Field(300.0, gt=0, description="seconds for a whole reply")
    offline_token_delay_ms: float = Field(30.0, ge=0, le=5000)
    model_client: Literal["fast", "stock"] = Field(
        "fast",
        description="fast: our leaner ChatOpenAI token stream; stock: langchain's own ChatOpenAI",
    )

    # Thread memory: Redis when REDIS_URL is set, else an embedded SQLite file.
    redis_url: SecretStr | None = None
    redis_cluster: bool | None = Field(
        None,
        description="REDIS_URL names a node of a Redis Cluster: true, false, or unset to ask "
        "the node (INFO cluster) at start-up",
    )
    redis_key_prefix: str = "agent"
    redis_ttl_seconds: int | None = Field(None, ge=1)
    redis_ttl_refresh_on_read: bool = False
    redis_keep_history: bool = Field(
        True, description="false: keep only each thread's latest checkpoint"
    )
    redis_message_cache: int = Field(
        16384,
        ge=0,
        description="messages the Redis saver keeps decoded, and as many encoded, per process, "
        "so that a long thread's history is not deserialised or serialised again every turn "
        "(about 2 KB a message each); 0: none",
    )
    sqlite_path: Path = Path(".data/checkpoints.sqlite")

    # Requests.
    default_graph: str = "streaming-chat"
    max_message_chars: int = Field(32_000, ge=1)
    sse_ping_seconds: float = Field(15.0, gt=0)
    sse_compression: Literal["gzip", "off"] = Field(
        "gzip", description="gzip /stream for clients that accept it (flushed per frame), or off"
    )

    # Reliability.
    on_disconnect: Literal["cancel", "continue"] = Field(
        "cancel",
        description="cancel: stop the run when its clients left and none came back within "
        "RECONNECT_GRACE_SECONDS; continue: finish it regardless",
    )
    reconnect_grace_seconds: float = Field(
        10.0,
        ge=0,
        description="a run whose clients all left keeps going this long for one to rejoin",
    )
    run_log_ttl_seconds: float = Field(
        600.0, gt=0, description="how long a run's frames stay readable after it ends"
    )
    run_log_maxlen: int = Field(
        100_000, ge=100, description="frames kept per run in Redis (MAXLEN ~)"
    )
    sse_retry_ms: int = Field(
        1000, ge=0, description="retry: sent to clients, so EventSource reconnects promptly"
    )
    multitask: Literal["reject", "enqueue"] = Field(
        "reject", description="a request on a busy thread: 409 at once, or wait its turn"
    )
    multitask_wait_seconds: float = Field(30.0, gt=0)
    run_claim_ttl_seconds: float = Field(
        30.0,
        gt=1,
        description="expiry of a replica's claim on a thread and run (Redis): a run whose "
        "replica died is taken over by another this long after its last heartbeat",
    )
    run_max_attempts: int = Field(
        3,
        ge=1,
        le=100,
        description="starts of a run (its first included) before a run whose replicas keep "
        "dying ends with run_lost (Redis)",
    )
    shutdown_grace_seconds: float = Field(
        20.0, ge=0, description="on SIGTERM, how long streams may still finish"
    )

    # Security.
    api_keys: SecretStr | None = Field(
        None,
        description="comma-separated service keys: 'Bearer <key>' may act for any userId",
    )
    user_api_keys: SecretStr | None = Field(
        None, description="'key1:alice,key2:bob': keys that are one user each"
    )
    jwt_secret: SecretStr | None = Field(None, description="HS256 secret for bearer JWTs")
    jwt_jwks_file: Path | None = Field(None, description="a JWKS file (RS256/ES256 keys)")
    jwt_jwks_url: str | None = Field(None, description="a JWKS URL (RS256/ES256 keys)")
    jwt_issuer: str | None = Field(None, description="the iss a token must carry")
    jwt_audience: str | None = Field(None, description="the aud a token must carry")
    jwt_user_claim: str = Field("sub", min_length=1, description="the claim naming the user")
    stream_url_secret: SecretStr | None = Field(
        None,
        description="signs the access token in POST /start's streamUrl; unset: random at "
        "start, shared through Redis when REDIS_URL is set",
    )
    # Limits per user (0: none). Shared by the replicas through Redis when REDIS_URL is set.
    rate_limit_per_minute: int = Field(0, ge=0, description="turns a user may start a minute")
    max_streams_per_user: int = Field(0, ge=0, description="runs a user may have at once")
    cors_origins: str = Field("", description="comma-separated origins allowed by CORS, or *")
    max_body_bytes: int = Field(1 << 20, ge=1024)

    # The chat playground page at GET /; turn it off in production if you do not want it.
    playground: bool = True

    @property
    def token_delay(self) -> float:
        return self.offline_token_delay_ms / 1000

    def api_key_list(self) -> list[str]:
        if self.api_keys is None:
            return []
        return [k.strip() for k in self.api_keys.get_secret_value().split(",") if k.strip()]

    def user_key_map(self) -> dict[str, str]:
        if self.user_api_keys is None:
            return {}
        keys: dict[str, str] = {}
        for item in self.user_api_keys.get_secret_value().split(","):
            key, sep, user = item.strip().rpartition(":")
            if item.strip() and (not sep or not key.strip() or not user.strip()):
                raise ValueError("USER_API_KEYS entries are 'key:user', separated by commas")
            if sep:
                keys[key.strip()] = user.strip()
        return keys

    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]
