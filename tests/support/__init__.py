"""Real parts for tests: a throwaway redis-server, an OpenAI stand-in, a server on loopback."""
