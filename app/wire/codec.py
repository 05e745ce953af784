"""Wire formats, one module each, encoding a run's events (``app.runs.events``) as bytes: the seed's
frames (``seed``) and the LangGraph API's stream modes (``langgraph``).

A run knows nothing about any wire format; each run is shown in the format of the API that
started it, which is also the format its log in Redis keeps for other replicas.
"""

from __future__ import annotations

from app.runs.spec import Turn
from app.wire.chat import SeedEncoder
from app.wire.langgraph import LangGraphEncoder


def encoder_for(turn: Turn) -> SeedEncoder | LangGraphEncoder:
    """The encoder of the API that started ``turn``."""
    graph_run = turn.graph_run
    if graph_run is None:
        return SeedEncoder(turn)
    return LangGraphEncoder(turn.request_id, graph_run.stream_modes, subgraphs=graph_run.subgraphs)
