"""Visits and stats: the buffer and its journal, the flush, the daily rollups, stat ranges
and analytics, visitors' countries."""
