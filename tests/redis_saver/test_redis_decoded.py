"""Messages decoded once per process, handed out as copies, and never served stale."""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from redis_saver import RedisSaver
from tests.redis_saver.checkpoints import CountingSerde, config, put, read_messages


def _messages() -> list[BaseMessage]:
    return [
        HumanMessage("hello", id="h"),
        AIMessage("hi", id="a", additional_kwargs={"note": "original"}),
    ]


async def test_decoded_when_read_again_then_messages_not_decoded_again(
    counting: tuple[RedisSaver, CountingSerde],
) -> None:
    """A second read of the thread decodes its record, not its messages; the copies are equal
    objects of their own."""
    saver, serde = counting
    stored = await put(saver, "t", changed={"messages": _messages()})
    first = await read_messages(saver, stored)
    serde.loads = 0

    again = await read_messages(saver, stored)

    assert serde.loads == 2  # the checkpoint and its metadata
    assert again == first and all(a is not b for a, b in zip(again, first, strict=True))


async def test_decoded_when_field_reassigned_then_later_reads_unchanged(
    counting: tuple[RedisSaver, CountingSerde],
) -> None:
    """Changing a read message's field changes that copy only."""
    saver, _ = counting
    stored = await put(saver, "t", changed={"messages": _messages()})
    (await read_messages(saver, stored))[1].content = "changed"

    assert (await read_messages(saver, stored))[1].content == "hi"


async def test_decoded_when_nested_value_mutated_and_stored_then_old_checkpoint_reads_original(
    counting: tuple[RedisSaver, CountingSerde],
) -> None:
    """A message mutated in place (a nested dict) and stored again under its id: the old
    checkpoint still reads the message as it was stored."""
    saver, _ = counting
    first = await put(saver, "t", changed={"messages": _messages()})
    messages = await read_messages(saver, first)
    messages[1].additional_kwargs["note"] = "mutated"  # reaches the shared template too
    second = await put(saver, "t", changed={"messages": messages}, parent=first)

    assert (await read_messages(saver, first))[1].additional_kwargs == {"note": "original"}
    assert (await read_messages(saver, second))[1].additional_kwargs == {"note": "mutated"}


async def test_decoded_when_disabled_then_every_read_decodes(redis_db: str) -> None:
    """decoded_messages=0 keeps nothing: each read decodes every message."""
    serde = CountingSerde()
    async with RedisSaver.from_url(redis_db, serde=serde, decoded_messages=0) as saver:
        await put(saver, "t", changed={"messages": _messages()})
        await read_messages(saver, config("t"))
        serde.loads = 0
        await read_messages(saver, config("t"))

    assert serde.loads == 4
