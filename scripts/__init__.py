"""Developer scripts; ``local_model`` is also imported by the real-model tests."""
