"""What the server tells its operators: structured logs (``logs``) and Prometheus metrics."""
