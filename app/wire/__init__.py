"""Wire formats, one module each, encoding a run's events (``app.runs.events``) as bytes: the
chat API's frames (``chat``), LangGraph's stream modes (``langgraph``); the SSE response and its
one frame builder (``sse``), JSON bodies (``json``), and the run log's codec (``codec``). Nothing
here runs a graph or knows a store."""
