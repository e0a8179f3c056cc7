"""Links, visits, blocklist and webhook models (filled in by the links issue)."""
