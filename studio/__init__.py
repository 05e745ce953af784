"""LangGraph Studio's view of the registry: ``langgraph.json`` and the graphs it names."""
