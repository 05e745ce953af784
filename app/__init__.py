"""The agent server's HTTP layer."""

import sys

# httpx imports its command-line client, and with it rich and pygments, whenever they happen to
# be installed (the dev extras install them). The server never uses it: ~4 MB per process.
# This runs before anything here imports httpx.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]  # None: "not importable"

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402

__all__ = ["Settings", "create_app"]
