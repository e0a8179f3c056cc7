"""Site-wide rate limiting on django-ratelimit's core: rates, client address, groups, middleware."""
