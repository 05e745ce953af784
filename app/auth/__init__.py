"""Who is asking: the credentials (API keys, JWT, JWKS), the principal they name, the guard
that checks them before any route, and the stream tokens of ``POST /start``'s ``streamUrl``."""
