"""The agent server's HTTP layer."""

from app.main import create_app
from app.settings import Settings

__all__ = ["Settings", "create_app"]
