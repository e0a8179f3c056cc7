"""Short domains: the host names links live on. Imported by models.py.

`Domain.origin` is the one builder of what a short URL starts with (scheme, host and
port visitors use); `Domain.url_for(slug)` and `Link.short_url` build on it, and so does
everything that shows or encodes a short URL. The site's own host takes its scheme and
port from settings.SITE_URL; another domain from its `http_only` and `port`.

The site's own host (settings.SITE_HOST) is a domain too, created by migration 0007
and, should SITE_HOST change, by `Domain.objects.site()` on first use; links made
before keep the domain they were made on.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q

from shortener.policy import targets


class DomainRefused(ValueError):
    """Not a host name a domain can have (a port, a path, not a name at all)."""


class DomainQuerySet(models.QuerySet):
    def site(self) -> "Domain":
        """The domain of the site's own host, made on first use if SITE_HOST changed."""
        domain, _ = self.get_or_create(
            host=settings.SITE_HOST,
            defaults={
                "http_only": not settings.SITE_URL.startswith("https:"),
                "is_default": not self.exists(),
            },
        )
        return domain


class Domain(models.Model):
    host = models.CharField(
        max_length=253,
        unique=True,
        help_text="As visitors type it, without scheme or port; stored lower-case in "
        "IDNA (xn--) form.",
    )
    is_default = models.BooleanField(
        "default", default=False, help_text="Preselected when a link is made."
    )
    is_active = models.BooleanField(
        "active",
        default=True,
        help_text="An inactive domain answers nothing (400), and no link can be made on it.",
    )
    http_only = models.BooleanField(
        default=False, help_text="Short URLs on it start with http:// instead of https://."
    )
    port = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Where visitors reach it, when that is not the scheme's usual port (80, "
        "443); empty: the usual one. Not for the site's own host: SITE_URL says its port.",
    )
    root_redirect = models.URLField(
        blank=True,
        max_length=targets.MAX_LENGTH,
        help_text="Where its bare root (/) sends visitors; empty: the site's home page. "
        "Not for the site's own host, whose root is the home page.",
    )
    unknown_redirect = models.URLField(
        blank=True,
        max_length=targets.MAX_LENGTH,
        help_text="Where a slug it does not know sends visitors; empty: the 404 page.",
    )
    refuse_subdomains = models.BooleanField(
        default=False,
        help_text="Refuse links to its subdomains too (when they are this installation's).",
    )
    groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="short_domains",
        help_text="Only members of these groups (and staff) may use it; none: everyone.",
    )
    workspaces = models.ManyToManyField(
        "shortener.Workspace",
        blank=True,
        related_name="short_domains",
        help_text="Only links of these workspaces may use it (as well as these groups' "
        "members, and staff); neither groups nor workspaces: everyone.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DomainQuerySet.as_manager()

    class Meta:
        ordering = ["-is_default", "host"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_domain"
            )
        ]

    def __str__(self) -> str:
        return self.host

    def save(self, *args, **kwargs):
        verdict = targets.domain_host(self.host)
        if not verdict.ok:
            raise DomainRefused(verdict.reason)
        if not port_is_valid(self.port):
            raise DomainRefused(PORT_RULE)
        self.host = verdict.url
        with transaction.atomic():
            if self.is_default:  # one default: choosing one unchooses the other
                Domain.objects.filter(is_default=True).exclude(pk=self.pk).update(is_default=False)
            super().save(*args, **kwargs)

    @property
    def is_site(self) -> bool:
        return self.host == settings.SITE_HOST

    @property
    def scheme(self) -> str:
        return "http" if self.http_only else "https"

    @property
    def origin(self) -> str:
        """`scheme://host[:port]` as visitors reach this domain: the one place it is built."""
        if self.is_site:
            site = urlsplit(settings.SITE_URL)
            return targets.origin(site.scheme, self.host, site.port)
        return targets.origin(self.scheme, self.host, self.port)

    def url_for(self, slug: str) -> str:
        """The short URL of `slug` on this domain."""
        return f"{self.origin}/{slug}"

    def problems(self) -> dict[str, str]:
        verdict = targets.domain_host(self.host)
        found = {} if verdict.ok else {"host": verdict.reason}
        host = verdict.url or self.host
        if host == settings.SITE_HOST and not self.is_active:
            found["is_active"] = "The site's own host serves the pages; it stays active."
        if host == settings.SITE_HOST and self.root_redirect:
            found["root_redirect"] = "The site's own root is its home page; leave this empty."
        if not port_is_valid(self.port):
            found["port"] = PORT_RULE
        elif host == settings.SITE_HOST and self.port is not None:
            found["port"] = "The site's own port comes from SITE_URL; leave this empty."
        if self.is_default and not self.is_active:
            found["is_default"] = "The default domain must be active."
        return found

    def validate_constraints(self, exclude=None) -> None:
        # One default: save() moves it from the old default, so choosing one is no error.
        super().validate_constraints(exclude={*(exclude or ()), "is_default"})

    def clean(self) -> None:
        found = self.problems()
        if found:
            raise ValidationError(found)
        self.host = targets.domain_host(self.host).url


PORT_RULE = "A port is a whole number from 1 to 65535; leave it empty for the usual one."


def port_is_valid(port) -> bool:
    return port is None or (isinstance(port, int) and 1 <= port <= 65535)


def site_domain_pk() -> int:
    """A new link's domain unless one is chosen: the site's own (Link.domain's default)."""
    # The pk alone: migration 0009 asks this default while the table lacks later columns
    # (`port`, 0012), which a whole row would read.
    pk = Domain.objects.filter(host=settings.SITE_HOST).values_list("pk", flat=True).first()
    return pk if pk is not None else Domain.objects.site().pk


class BlockedDomainRefused(ValueError):
    """Not a domain the blocklist can hold (a bare public suffix, not a domain name)."""


class BlockedDomain(models.Model):
    """A domain no link may lead to; it covers all its subdomains.

    Added and removed through `shortener.links.block()` and `unblock()`, which also
    disable (and re-enable) the links that lead there; saving a row directly only
    stores the entry, so no entry point does that."""

    domain = models.CharField(max_length=253, unique=True)
    reason = models.CharField(max_length=200, blank=True)
    source = models.CharField(
        max_length=100,
        blank=True,
        help_text="What added it: admin, a webhook source, the block_domain command, a feed.",
    )
    blocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args, **kwargs):
        # Stored exactly as target hosts are normalised, so Bücher.example blocks xn--bcher-kva.
        verdict = targets.blocklist_entry(self.domain)
        if not verdict.ok:
            raise BlockedDomainRefused(verdict.reason)
        self.domain = verdict.url
        super().save(*args, **kwargs)

    def clean(self) -> None:
        verdict = targets.blocklist_entry(self.domain)
        if not verdict.ok:
            raise ValidationError({"domain": verdict.reason})
        self.domain = verdict.url
