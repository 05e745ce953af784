"""Checkpointers: where each thread's memory lives."""

from app.persistence.factory import open_checkpointer

__all__ = ["open_checkpointer"]
