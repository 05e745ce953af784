"""The stores, one protocol each with a memory (or SQLite) and a Redis backend side by side,
picked once at start-up by :func:`open_stores`: claims (locks, cancel, watch), limits, the run
log, thread and run records, and the checkpointer."""
