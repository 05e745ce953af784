"""``python -m app``: serve on HOST:PORT with uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from app.settings import Settings


def main() -> None:
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        # Streams are long-lived: let them finish on SIGTERM for a while before closing.
        timeout_graceful_shutdown=30,
    )


if __name__ == "__main__":
    main()
