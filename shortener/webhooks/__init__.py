"""Webhook receivers (verify, store, acknowledge) and event handlers (act on the domain)."""
