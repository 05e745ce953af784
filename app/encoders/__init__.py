"""Wire formats, one module each, encoding a run's events (``app.events``) as bytes.

An encoder knows nothing about LangGraph, and a run knows nothing about any wire format.
"""
