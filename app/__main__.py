"""``python -m app``: serve on HOST:PORT with uvicorn."""

from __future__ import annotations

import uvicorn

from app.observability.logs import log_config
from app.settings import Settings


def main() -> None:
    settings = Settings()
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level, settings.log_format),
        # Streams get SHUTDOWN_GRACE_SECONDS to finish, then a server_shutdown frame; uvicorn
        # must wait a little longer than that before it force-closes connections.
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 10,
    )


if __name__ == "__main__":
    main()
