"""The private third-party names listed in model_client/_private.py still exist with the shape
we rely on. A dependency bump that renames one fails here by name; what each does for us is
pinned by the fast-vs-stock behaviour tests beside this file (and tests/test_sse.py)."""

from __future__ import annotations

import inspect

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_openai import ChatOpenAI
from sse_starlette import EventSourceResponse

from model_client import _private
from model_client.fast_openai import FastChatOpenAI

# Methods of the parent classes that FastChatOpenAI overrides or calls.
OVERRIDDEN = {
    (BaseChatModel, "_agenerate_with_cache"),
    (ChatOpenAI, "_astream"),
    (ChatOpenAI, "_get_request_payload"),
}
CALLED = {
    (BaseChatModel, "_should_stream"),
    (BaseChatModel, "_should_use_protocol_streaming"),
    (ChatOpenAI, "_get_request_payload"),
    (ChatOpenAI, "_should_stream_usage"),
    (ChatOpenAI, "_use_responses_api"),
    (ChatOpenAI, "_convert_chunk_to_generation_chunk"),
}


@pytest.mark.parametrize(("owner", "name"), sorted(OVERRIDDEN | CALLED, key=str))
def test_listed_private_method_exists(owner: type, name: str) -> None:
    """Each private method the fast client overrides or calls is still on its class."""
    assert callable(getattr(owner, name, None)), f"{owner.__name__}.{name} is gone"


@pytest.mark.parametrize(("owner", "name"), sorted(OVERRIDDEN, key=str))
def test_overrides_keep_the_parents_signature(owner: type, name: str) -> None:
    """An override whose parent changed its parameters would no longer be called as written."""
    ours = list(inspect.signature(getattr(FastChatOpenAI, name)).parameters)
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    theirs = [
        p.name
        for p in inspect.signature(getattr(owner, name)).parameters.values()
        if p.kind not in variadic
    ]
    assert ours[: len(theirs)] == theirs


def test_uses_gateway_is_still_read_by_chat_openai() -> None:
    """``_uses_gateway`` (a property) still exists, so requests through a gateway keep taking
    ChatOpenAI's own path."""
    assert hasattr(ChatOpenAI, "_uses_gateway")


def test_private_functions_are_importable_and_callable() -> None:
    """The module-level private functions are re-exported from one place and callable."""
    for name in _private.__all__:
        assert callable(getattr(_private, name)), name


def test_sse_starlette_still_sends_through_send_with_timeout() -> None:
    """Our EventStream overrides sse-starlette's ``_send_with_timeout``; it must still exist."""
    assert callable(getattr(EventSourceResponse, "_send_with_timeout", None))
