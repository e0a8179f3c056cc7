"""Requests Torii makes to addresses others chose (outbound webhooks, later link health).

Every one goes through `shortener.outbound.fetch`, the one safe fetcher."""
