"""Response helpers every layer may import (shortener, flags, config): fragment or page,
problem documents, announcements after a swap. Imports Django and django-htmx only."""
