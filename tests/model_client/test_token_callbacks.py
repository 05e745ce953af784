"""TokenNotifier makes the same handler calls as langchain's AsyncCallbackManagerForLLMRun."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from langchain_core.callbacks import (
    AsyncCallbackHandler,
    AsyncCallbackManagerForLLMRun,
    BaseCallbackHandler,
)
from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from model_client.token_callbacks import TokenNotifier


class Recorder(BaseCallbackHandler):
    run_inline = True

    def __init__(self, calls: list[tuple[str, Any]], name: str, *, fail: bool = False) -> None:
        self.calls, self.name, self.fail = calls, name, fail

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.calls.append((self.name, token, sorted(kwargs.items(), key=lambda kv: kv[0])))
        if self.fail:
            raise ValueError("handler broke")


class Raising(Recorder):
    raise_error = True


class IgnoresLLM(Recorder):
    @property
    def ignore_llm(self) -> bool:
        return True


class AsyncRecorder(AsyncCallbackHandler):
    def __init__(self, calls: list[tuple[str, Any]]) -> None:
        self.calls = calls

    async def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        self.calls.append(("async", token, sorted(kwargs.items(), key=lambda kv: kv[0])))


def _manager(handlers: list[Any]) -> AsyncCallbackManagerForLLMRun:
    return AsyncCallbackManagerForLLMRun(
        run_id=uuid.uuid4(),
        handlers=handlers,
        inheritable_handlers=[],
        parent_run_id=uuid.uuid4(),
        tags=["seq:step:1", "mine"],
    )


def _chunk(text: str) -> ChatGenerationChunk:
    return ChatGenerationChunk(message=AIMessageChunk(content=text, id="lc_run-x"))


async def _both_ways(build: Any) -> tuple[list[Any], list[Any], TokenNotifier]:
    """The calls langchain's manager makes, and the calls the notifier makes, for two tokens."""
    seen_by_manager: list[Any] = []
    manager = _manager(build(seen_by_manager))
    for text in ("Once ", "upon"):
        await manager.on_llm_new_token(text, chunk=_chunk(text))
    seen_by_notifier: list[Any] = []
    twin = _manager(build(seen_by_notifier))
    twin.run_id, twin.parent_run_id = manager.run_id, manager.parent_run_id
    notifier = TokenNotifier(twin)
    for text in ("Once ", "upon"):
        await notifier.notify(text, chunk=_chunk(text))
    return seen_by_manager, seen_by_notifier, notifier


async def test_inline_handlers_are_called_directly_with_the_managers_arguments() -> None:
    """Same order, token, chunk, run id, parent run id and tags; ignore_llm is respected."""
    by_manager, by_notifier, notifier = await _both_ways(
        lambda calls: [Recorder(calls, "a"), IgnoresLLM(calls, "skip"), Recorder(calls, "b")]
    )

    assert notifier.direct
    assert [c[:2] for c in by_notifier] == [
        ("a", "Once "),
        ("b", "Once "),
        ("a", "upon"),
        ("b", "upon"),
    ]
    assert by_notifier == by_manager


async def test_an_async_handler_sends_every_call_through_the_manager() -> None:
    """With a coroutine handler in the list, the manager's own dispatch runs (it awaits it)."""
    by_manager, by_notifier, notifier = await _both_ways(
        lambda calls: [Recorder(calls, "a"), AsyncRecorder(calls)]
    )

    assert not notifier.direct
    assert by_notifier == by_manager
    assert ("async", "upon") in [c[:2] for c in by_notifier]


def test_a_handler_that_runs_in_a_thread_is_left_to_the_manager() -> None:
    class Threaded(Recorder):
        run_inline = False

    assert not TokenNotifier(_manager([Recorder([], "a"), Threaded([], "t")])).direct


async def test_a_failing_handler_is_logged_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As in langchain: a handler's error is a warning, and the next handler is still called."""
    calls: list[Any] = []
    notifier = TokenNotifier(_manager([Recorder(calls, "bad", fail=True), Recorder(calls, "ok")]))

    with caplog.at_level(logging.WARNING):
        await notifier.notify("x", chunk=_chunk("x"))

    assert [c[0] for c in calls] == ["bad", "ok"]
    assert "Error in Recorder.on_llm_new_token callback: ValueError('handler broke')" in caplog.text


async def test_a_raise_error_handler_stops_the_stream_as_in_langchain() -> None:
    calls: list[Any] = []
    notifier = TokenNotifier(_manager([Raising(calls, "strict", fail=True), Recorder(calls, "b")]))

    with pytest.raises(ValueError, match="handler broke"):
        await notifier.notify("x", chunk=_chunk("x"))
    with pytest.raises(ValueError, match="handler broke"):
        await _manager([Raising([], "strict", fail=True)]).on_llm_new_token("x")
