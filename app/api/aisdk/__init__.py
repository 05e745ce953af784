"""The AI SDK's UI message stream API (``useChat``): ``POST /api/chat``, its resume and stop."""
