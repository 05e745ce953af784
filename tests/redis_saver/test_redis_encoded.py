"""Messages encoded once per process: a put serialises only what changed, and stores it."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from redis_saver import RedisSaver
from redis_saver.encoded import EncodedMessages
from tests.redis_saver.checkpoints import CountingSerde, put, read_messages


def _messages(n: int = 10) -> list[BaseMessage]:
    return [
        AIMessage(f"answer {i}", id=f"a{i}", additional_kwargs={"note": "original"})
        if i % 2
        else HumanMessage(f"question {i}", id=f"h{i}")
        for i in range(n)
    ]


async def test_encoded_when_next_turn_then_only_new_messages_serialised(
    counting: tuple[RedisSaver, CountingSerde],
) -> None:
    """The history read back and stored again with one new message: one serialisation."""
    saver, serde = counting
    first = await put(saver, "t", changed={"messages": _messages()})
    history = await read_messages(saver, first)
    serde.messages = 0

    second = await put(
        saver, "t", changed={"messages": [*history, HumanMessage("new", id="n")]}, parent=first
    )

    assert serde.messages == 1
    assert [m.content for m in await read_messages(saver, second)][-2:] == ["answer 9", "new"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda m: m.additional_kwargs.update(note="mutated"), id="nested in place"),
        pytest.param(lambda m: setattr(m, "content", "mutated"), id="field reassigned"),
        pytest.param(lambda m: m.response_metadata.update(extra=[1]), id="new nested key"),
        pytest.param(lambda m: setattr(m, "custom", "added"), id="extra field"),
    ],
)
async def test_encoded_when_message_changed_then_serialised_and_stored(
    counting: tuple[RedisSaver, CountingSerde], change: Any
) -> None:
    """A message changed in any way since it was stored is serialised again: the new
    checkpoint holds the change, the old one the original."""
    saver, serde = counting
    messages = _messages()
    first = await put(saver, "t", changed={"messages": messages})
    change(messages[1])  # the same objects, as a graph's channel holds them
    serde.messages = 0

    second = await put(saver, "t", changed={"messages": messages}, parent=first)

    # The changed message, and the re-check of the template put() decoded from the parent.
    assert serde.messages == 2
    assert (await read_messages(saver, second))[1] == messages[1]
    original = (await read_messages(saver, first))[1]
    assert original.content == "answer 1" and original.additional_kwargs == {"note": "original"}
    assert original.response_metadata == {}


async def test_encoded_when_same_id_other_type_then_serialised() -> None:
    """A message of another type under a kept id is not taken for the kept one."""
    serde, cache = CountingSerde(), EncodedMessages()
    human = cache.encode(serde, HumanMessage("same", id="x"))
    ai = cache.encode(serde, AIMessage("same", id="x"))

    assert serde.messages == 2 and human[0] != ai[0] and ai[2]


async def test_encoded_when_bound_reached_then_oldest_forgotten() -> None:
    """The cache holds at most max_entries messages, dropping the least recently stored."""
    serde, cache = CountingSerde(), EncodedMessages(max_entries=2)
    first, second, third = _messages(3)
    for message in (first, second, third):
        cache.encode(serde, message)
    serde.messages = 0

    assert not cache.encode(serde, third)[2]
    assert cache.encode(serde, first)[2]
    assert len(cache) == 2 and serde.messages == 1


async def test_encoded_when_disabled_then_every_put_serialises(redis_db: str) -> None:
    """encoded_messages=0 keeps nothing: each put serialises every message."""
    serde = CountingSerde()
    async with RedisSaver.from_url(redis_db, serde=serde, encoded_messages=0) as saver:
        messages = _messages()
        first = await put(saver, "t", changed={"messages": messages})
        serde.messages = 0
        await put(saver, "t", changed={"messages": messages}, parent=first)

    assert serde.messages == 10
