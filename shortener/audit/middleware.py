"""A request's changes are its user's, through the entry point its URL belongs to."""

from shortener.audit.models import Via
from shortener.audit.recording import ACTING, Acting

# The URL namespaces and names of entry points other than pages (config/urls.py).
NAMESPACES = {"admin": Via.ADMIN, "api-v1": Via.API}
NAMES = {"webhook-receive": Via.WEBHOOK}


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The user as given: request.user stays lazy, so a request that changes nothing
        # never loads a session for the log.
        token = ACTING.set(Acting(getattr(request, "user", None), Via.PAGE))
        try:
            return self.get_response(request)
        finally:
            ACTING.reset(token)

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        now = ACTING.get()
        if match is None or now is None:
            return None
        for namespace in match.namespaces:
            if namespace in NAMESPACES:
                now.via = NAMESPACES[namespace]
        now.via = NAMES.get(match.url_name or "", now.via)
        return None
