"""Response helpers every layer may import (shortener, flags, config): fragment or page,
and problem documents. This package imports Django and django-htmx, nothing of Torii."""
