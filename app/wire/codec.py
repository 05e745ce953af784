"""The run log's codec: the wire encoder of the API that started a run, by its spec's ``wire``
name. A run is shown to its clients in that format, and its log in Redis keeps it in that format
for other replicas."""

from __future__ import annotations

from collections.abc import Callable

from app.runs.spec import RunSpec
from app.wire.agui import AGUIEncoder
from app.wire.aisdk import AISDKEncoder
from app.wire.chat import ChatEncoder
from app.wire.langgraph import LangGraphEncoder

Encoder = ChatEncoder | LangGraphEncoder | AISDKEncoder | AGUIEncoder

ENCODERS: dict[str, Callable[[RunSpec], Encoder]] = {
    "chat": ChatEncoder,
    "langgraph": lambda spec: LangGraphEncoder(
        spec.request_id, spec.stream_modes, subgraphs=spec.subgraphs
    ),
    "aisdk": AISDKEncoder,
    "agui": AGUIEncoder,
}


def encoder_for(spec: RunSpec) -> Encoder:
    """The encoder of the API that started ``spec``'s run."""
    return ENCODERS[spec.wire](spec)
