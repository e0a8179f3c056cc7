"""/robots.txt: crawlers may read the site's own pages, never the short links.

Short links are `/<slug>` at the root, beside the pages, so no prefix tells them apart:
the answer allows the few public pages by name and disallows the rest (RFC 9309: the
longest matching rule wins, and `$` anchors the end). Following a short link leaves the
site, counts a visit and would index someone else's destination as this site's page.
A short domain serves nothing but short links, so there everything is disallowed.
"""

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from shortener.domains.served import of_request

SITE_RULES = """\
# Torii: the site's pages may be crawled, its short links (/<slug>, /<slug>+) may not.
User-agent: *
Allow: /$
Allow: /accounts/login/
Allow: /api/v1/docs
Allow: /static/
Disallow: /
"""
SHORT_DOMAIN_RULES = """\
# Torii: a short domain answers only short links, and they are not to be crawled.
User-agent: *
Disallow: /
"""


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    domain = of_request(request)
    rules = SITE_RULES if domain is not None and domain.is_site else SHORT_DOMAIN_RULES
    response = HttpResponse(rules, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "public, max-age=86400"
    return response
