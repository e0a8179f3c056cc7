"""A link as JSON, the fields every program reads: the API's link body (which adds the
relations a request can follow) and the `data` of outbound webhook events."""

from shortener.links.models import Link


def tag_names(link: Link) -> list[str]:
    # A page prefetches into `tag_list`: a related manager per link costs more than its query.
    tags = getattr(link, "tag_list", None)
    return [tag.name for tag in (link.tags.all() if tags is None else tags)]


def link_fields(link: Link) -> dict:
    """Plain values and datetimes (encode with DjangoJSONEncoder)."""
    return {
        "slug": link.slug,
        "domain": link.domain.host,
        "key": link.key,
        "short_url": link.short_url,
        "target": link.target,
        "title": link.title,
        "notes": link.notes,
        "tags": tag_names(link),
        "redirect_code": link.redirect_code,
        "expires_at": link.expires_at,
        "max_visits": link.max_visits,
        "visit_count": link.visit_count,
        # Only the link's owner and staff read these (the API, their own endpoints):
        # they may see where it leads.
        "password_protected": link.is_protected,
        "password_failures": link.password_failures,
        "rules": link.rules,
        "forward_query": link.forward_query,
        "state": link.state.value,
        "created_at": link.created_at,
        "updated_at": link.updated_at,
    }
