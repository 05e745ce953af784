"""Every private third-party API the fast model client relies on, in one place, with why.

``MODEL_CLIENT=stock`` runs langchain's own ``ChatOpenAI`` on httpx's own transport and uses
none of these. ``tests/model_client/test_private_apis.py`` fails by name when one is renamed or
an overridden method changes its parameters; what each does for us is pinned by the behaviour
tests beside it that compare the fast client with the stock one.

langchain-core (``BaseChatModel``):

- ``_agenerate_with_cache`` (overridden): ``ainvoke`` on a streaming model keeps every chunk of
  the reply until it ends and merges them then, about 1 KB per token; the override merges them
  as they arrive (``MergedReply``) and falls back to the base method for caches, rate
  limiters, output version v1 and the v2 protocol.
- ``_should_stream``, ``_should_use_protocol_streaming`` (called): the same test the base
  method makes to choose its streaming branch.
- ``_gen_info_and_msg_metadata`` (called): the metadata the base method puts on each chunk.

langchain-openai (``ChatOpenAI``):

- ``_astream`` (overridden): parses each streamed event with orjson and builds the plain
  content-delta chunk directly instead of through the SDK's pydantic model; every other chunk
  goes through ``_convert_chunk_to_generation_chunk`` as ``ChatOpenAI`` does.
- ``_get_request_payload`` (overridden, and called): the parent builds the payload with no
  messages, and converts only the messages ``model_client.wire_cache`` does not hold, so a
  long thread's unchanged history is not converted on every call
  (``reuse_message_wire=False``: the parent's own, whole).
- ``_should_stream_usage``, ``_use_responses_api``, ``_uses_gateway``,
  ``_convert_chunk_to_generation_chunk`` (called): the same request and the same conversion as
  ``ChatOpenAI._astream``, and the cases left to it.

openai (public API, a behaviour relied on): ``extra_body`` is merged over the SDK's own JSON
fields untransformed, so the messages go there and the SDK does not walk each one against its
``TypedDict``s again (``tests/model_client/test_wire_cache.py`` compares the bodies sent).
- ``_handle_openai_api_error``, ``_handle_openai_bad_request``: the same error mapping.

The server's own private uses outside this package: sse-starlette's
``EventSourceResponse._send_with_timeout`` (``app/sse.py``; skips a cancel scope per send
when no send timeout is set; if renamed, the override is simply never called).
"""

from langchain_core.language_models.chat_models import _gen_info_and_msg_metadata
from langchain_openai.chat_models.base import _handle_openai_api_error, _handle_openai_bad_request

__all__ = [
    "_gen_info_and_msg_metadata",
    "_handle_openai_api_error",
    "_handle_openai_bad_request",
]
