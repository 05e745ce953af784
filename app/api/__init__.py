"""The APIs, one package (or module) each: the chat API of the original example (``chat``),
LangGraph's server API (``langgraph``), the server's own endpoints (``meta``) and the playground.
Each turns its requests into a :class:`~app.runs.spec.RunSpec` (its binder) and a run's events
into its wire format (``app.wire``); none knows which store backend it talks to."""
