"""Signing in with an OpenID Connect provider, through mozilla-django-oidc (docs/operations.md)."""
