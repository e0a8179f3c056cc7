"""Trust and safety: visitors report links, enough distinct reporters quarantine one,
staff review the reports and decide (shortener/safety/reports.py, review.py)."""
