"""``on_llm_new_token`` for a run's handlers, without langchain's dispatch when it is not needed.

``AsyncCallbackManagerForLLMRun.on_llm_new_token`` goes through ``ahandle_event``: a coroutine
per handler, ``inspect.iscoroutinefunction`` per handler and an ``asyncio.gather`` per token,
even when every handler is a plain function marked ``run_inline`` (LangGraph's stream handlers
are). That was about a tenth of the server's CPU per token. :class:`TokenNotifier` calls such
handlers directly, in the same order, with the same arguments and the same error handling, and
leaves every other case (an async handler, one that runs in a thread) to the manager.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, BaseCallbackHandler

# Warnings go where langchain's own dispatch sends them.
_manager_log = logging.getLogger("langchain_core.callbacks.manager")

__all__ = ["TokenNotifier"]


class TokenNotifier:
    """Tells one LLM run's callback handlers about each new token."""

    __slots__ = ("_handlers", "_manager", "direct")

    def __init__(self, manager: AsyncCallbackManagerForLLMRun) -> None:
        self._manager = manager
        self._handlers: list[BaseCallbackHandler] = list(manager.handlers)
        # ahandle_event awaits coroutine handlers and runs non-inline ones in a thread; only
        # when neither is present is calling in list order the same thing.
        self.direct = all(
            h.run_inline and not inspect.iscoroutinefunction(h.on_llm_new_token)
            for h in self._handlers
        )

    async def notify(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
        """What ``manager.on_llm_new_token(token, **kwargs)`` does."""
        if self.direct:
            self.call(token, **kwargs)
        else:
            await self._manager.on_llm_new_token(token, **kwargs)

    def call(self, token: str | list[str | dict[str, Any]], **kwargs: Any) -> None:
        """Call each handler now; only valid when :attr:`direct` is true."""
        manager = self._manager
        for handler in self._handlers:
            if handler.ignore_llm:
                continue
            try:
                handler.on_llm_new_token(
                    token,
                    run_id=manager.run_id,
                    parent_run_id=manager.parent_run_id,
                    tags=manager.tags,
                    **kwargs,
                )
            except NotImplementedError as exc:
                _manager_log.warning(
                    "NotImplementedError in %s.on_llm_new_token callback: %s",
                    handler.__class__.__name__,
                    repr(exc),
                )
            except Exception as exc:
                _manager_log.warning(
                    "Error in %s.on_llm_new_token callback: %s",
                    handler.__class__.__name__,
                    repr(exc),
                )
                if handler.raise_error:
                    raise
