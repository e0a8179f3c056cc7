"""The pure rules every room shares: what a target URL and a slug may be, country codes,
how a user agent is classified. No model, cache, setting or request."""
