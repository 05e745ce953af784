"""``python -m tests.support.serve module:function``: the server as ``python -m app`` runs it,
on the registry that function builds (a test's own graphs, in a process it can SIGKILL)."""

from __future__ import annotations

import importlib
import sys

import uvicorn

from app import Settings, create_app
from graphs import Registry


def registry_from(reference: str) -> Registry:
    module, _, function = reference.partition(":")
    built: Registry = getattr(importlib.import_module(module), function)()
    return built


def main() -> None:
    settings = Settings()
    app = create_app(settings, registry=registry_from(sys.argv[1]))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level)


if __name__ == "__main__":
    main()
