"""The shapes of API v1 bodies. Types only (strict: a number is never a date or a flag);
the link rules live in the link core, shortener.links."""

from datetime import date, datetime
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict

from shortener.links.cleaning import MAX_VISITS_MAX
from shortener.links.models import LinkState, QueryForwarding, RedirectCode


class Strict(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)


# JSON has no time type: an expiry is an RFC 3339 string that the link core reads.
Expiry = Annotated[
    str | None,
    Field(
        description="After this (UTC unless an offset is given) the short URL answers 410; "
        "it must lie in the future.",
        json_schema_extra={"format": "date-time"},
    ),
]
# Literal, not the enum: strict validation of an enum wants an instance, JSON has numbers.
Code = Literal[301, 302, 307, 308]


def whole_number(value: Any) -> Any:
    """JSON has one number type, and JSON Schema's `integer` includes 3.0: a whole number
    written with a fraction is that number (strict pydantic refused it, though the
    document allows it); 3.5, "3" and true stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


MaxVisits = Annotated[
    # The ceiling is the link core's (its sentence, not pydantic's, says so): the document
    # states it so that what it allows is what is accepted.
    Annotated[int, Field(ge=1, json_schema_extra={"maximum": MAX_VISITS_MAX})] | None,
    BeforeValidator(whole_number),
    Field(description="After this many visits it answers 410."),
]


# Rules are read by the link core, strictly (shortener/redirect_rules.py): its sentences
# say what is wrong with a rule better than a schema's type errors could.
Rules = Annotated[
    list[dict[str, Any]],
    Field(
        description="Redirect rules in order, at most 20; the first whose conditions all "
        'hold decides. Each is {"target": URL, "when": {...}} with conditions device '
        "(desktop, mobile, tablet, bot), os (android, ios, windows, macos, linux, chromeos), "
        'language (codes), country (ISO 3166 alpha-2), time ({"from", "until"}, UTC) and '
        'query ({"name", "value"}).',
        examples=[
            [
                {"target": "https://example.com/app", "when": {"device": ["mobile"]}},
                {"target": "https://example.de/", "when": {"language": ["de"]}},
            ]
        ],
    ),
]
Password = Annotated[
    str | None,
    Field(
        description="Write only: visitors must type it first. null removes it; never returned.",
        json_schema_extra={"writeOnly": True},
    ),
]
Forwarding = Literal["off", "merge", "override"]


class LinkCreate(Strict):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {"target": "https://example.com/launch/2026", "title": "Launch", "tags": ["news"]}
            ]
        },
    )

    target: str = Field(
        description="The destination: an absolute http or https URL.",
        examples=["https://example.com/a/long/path"],
    )
    domain: str | None = Field(
        None,
        description="The short domain's host name (see docs/domains.md); unset: the default "
        "domain. It must be active and open to you, and it never changes later.",
        examples=["go.example.com"],
    )
    slug: str | None = Field(
        None,
        description="A custom slug, only while custom slugs are enabled for you; unique "
        "on its domain.",
    )
    title: str = ""
    notes: str = ""
    tags: list[str] = Field(default_factory=list, description="Single words; at most 20.")
    redirect_code: Code = RedirectCode.FOUND.value
    expires_at: Expiry = None
    max_visits: MaxVisits = None
    password: Password = None
    rules: Rules = Field(default_factory=list)
    forward_query: Forwarding = QueryForwarding.OFF.value


BATCH_MAX = 1000


class LinkBatch(Strict):
    links: list[LinkCreate] = Field(
        min_length=1,
        max_length=BATCH_MAX,
        description=f"1 to {BATCH_MAX:,} links, each as for POST /links.",
    )


class BatchItem(Schema):
    index: int = Field(description="The item's position in `links`, from 0.")
    status: Literal["created", "existing", "refused"] = Field(
        description="`existing`: a link of yours already has this slug and target."
    )
    link: dict | None = Field(None, description="The link (as GET /links/{slug}) unless refused.")
    problem: dict | None = Field(
        None, description="Why it was refused: an `invalid-link` problem document."
    )


class BatchResult(Schema):
    created: int
    existing: int
    refused: int
    results: list[BatchItem]


class LinkPatch(Strict):
    """Only the fields sent change; the slug never does."""

    target: str = Field(None)
    title: str = Field(None)
    notes: str = Field(None)
    tags: list[str] = Field(None)
    redirect_code: Code = Field(None)
    expires_at: Expiry = None
    max_visits: MaxVisits = None
    password: Password = None
    rules: Rules = Field(None)
    forward_query: Forwarding = Field(None)


class Href(Schema):
    href: str
    method: str = Field("GET", description="The HTTP method to use with href.")


class LinkRelations(Schema):
    self_: Href = Field(alias="self")
    short_url: Href
    html: Href
    stats: Href | None = Field(None, description="Present while link analytics are on for you.")
    edit: Href
    delete: Href
    disable: Href | None = Field(None, description="Present only while the link is enabled.")
    enable: Href | None = Field(None, description="Present only while the link is disabled.")


class LinkOut(Schema):
    slug: str
    domain: str = Field(description="The host name of the link's short domain.")
    key: str = Field(
        description="How the API's paths name the link: the slug, with `@domain` when the "
        "link is not on the site's own host."
    )
    short_url: str = Field(description="The short URL, always on the link's own domain.")
    target: str
    title: str
    notes: str
    tags: list[str]
    redirect_code: RedirectCode
    expires_at: datetime | None
    max_visits: int | None
    visit_count: int
    password_protected: bool = Field(description="Visitors must type a password first.")
    password_failures: int = Field(description="Wrong passwords typed so far.")
    rules: list[dict[str, Any]]
    forward_query: QueryForwarding
    state: LinkState
    created_at: datetime
    updated_at: datetime
    links: LinkRelations = Field(alias="_links")


class PageRelations(Schema):
    self_: Href = Field(alias="self")
    first: Href
    prev: Href | None = None
    next: Href | None = None
    last: Href


class LinkPage(Schema):
    items: list[LinkOut]
    count: int = Field(
        description="Links in the whole collection: exact (also X-Total-Count) up to "
        "10,000, else an estimate (X-Total-Count-Estimate)."
    )
    count_is_estimate: bool = Field(description="True when `count` is an estimate.")
    page: int | None = Field(description="The page number with ?page= (deprecated), else null.")
    per_page: int
    links: PageRelations = Field(alias="_links")


class RootRelations(Schema):
    self_: Href = Field(alias="self")
    links: Href
    create_link: Href
    openapi: Href
    docs: Href


class Root(Schema):
    name: str
    version: str
    links: RootRelations = Field(alias="_links")


class Day(Schema):
    date: date
    visits: int


class StatsRelations(Schema):
    self_: Href = Field(alias="self")
    link: Href
    html: Href = Field(description="The link's stats page.")


class Count(Schema):
    value: str = Field(
        description="The referrer host, browser, OS or device class; empty for none."
    )
    visits: int


class Stats(Schema):
    slug: str
    from_: date = Field(alias="from", description="First UTC day of the range.")
    to: date = Field(description="Last UTC day of the range, included.")
    total_visits: int = Field(description="The link's visit counter (what max_visits checks).")
    clicks: int = Field(description="Recorded visits in the range.")
    unique_visitors: int = Field(
        description="Each day's distinct visitors, added up over the range (visitor-days): "
        "the visitor key changes every UTC day, so one person on three days counts three times."
    )
    humans: int
    bots: int
    daily: list[Day] = Field(description="Recorded visits per UTC day, oldest first.")
    breakdowns: dict[str, list[Count]] = Field(
        description="Per breakdown (referrer, browser, os, device), its most frequent values "
        "in the range, up to 8, most visits first."
    )
    countries: dict[str, int] = Field(
        description="Recorded visits by country (ISO 3166 alpha-2; `unknown` when the "
        "country could not be told), most first."
    )
    links: StatsRelations = Field(alias="_links")


class Problem(Schema):
    type: str
    title: str
    status: int
    detail: str
    errors: dict[str, list[str]] | None = Field(None, description="Field name → messages.")
