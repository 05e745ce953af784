"""Threads: the one rule for who may read or write a thread or a run and which user a request
acts for (``access``), and the records kept of threads and runs as runs end (``records``)."""
