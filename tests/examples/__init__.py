"""The example clients in examples/, run against a real server."""
