"""Short domains: the host names links live on. Imported by models.py.

The site's own host (settings.SITE_HOST) is a domain too, created by migration 0007
and, should SITE_HOST change, by `Domain.objects.site()` on first use; links made
before keep the domain they were made on.
"""

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
            defaults={"http_only": not settings.SECURE_SSL, "is_default": not self.exists()},
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

    def url_for(self, slug: str) -> str:
        """The short URL of `slug` on this domain: the one place short URLs are built."""
        return f"{self.scheme}://{self.host}/{slug}"

    def problems(self) -> dict[str, str]:
        verdict = targets.domain_host(self.host)
        found = {} if verdict.ok else {"host": verdict.reason}
        host = verdict.url or self.host
        if host == settings.SITE_HOST and not self.is_active:
            found["is_active"] = "The site's own host serves the pages; it stays active."
        if host == settings.SITE_HOST and self.root_redirect:
            found["root_redirect"] = "The site's own root is its home page; leave this empty."
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


def site_domain_pk() -> int:
    """A new link's domain unless one is chosen: the site's own (Link.domain's default)."""
    return Domain.objects.site().pk


class BlockedDomainRefused(ValueError):
    """Not a domain the blocklist can hold (a bare public suffix, not a domain name)."""


class BlockedDomain(models.Model):
    """A domain no link may lead to; it covers all its subdomains."""

    domain = models.CharField(max_length=253, unique=True)
    reason = models.CharField(max_length=200, blank=True)
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
