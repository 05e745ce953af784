"""The chat API of the original example: ``POST /stream``, ``/generate``, ``/start``, rejoin,
cancel, and the thread's history (``threads``); ``binder`` turns its body into a run spec."""
