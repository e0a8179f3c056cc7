"""Webhook events: sources and their secrets, the events received, their schemas, and what
each event type does (through the link core), run by the task worker."""
