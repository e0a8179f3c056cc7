"""The models of the `shortener` app, one module per room; importing them here is what
registers them with Django. Code imports a model from its room (shortener.links.models,
...); this module is for Django and for tests."""

from shortener.audit.models import Action, Entry, EntryChangeRefused, Kind, Via  # noqa: F401
from shortener.domains.models import (  # noqa: F401
    BlockedDomain,
    BlockedDomainRefused,
    Domain,
    DomainRefused,
    site_domain_pk,
)
from shortener.events.models import (  # noqa: F401
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Endpoint,
    EventStatus,
    OutboundEvent,
    SignatureScheme,
    WebhookEvent,
    WebhookSecret,
    WebhookSource,
)
from shortener.links.models import (  # noqa: F401
    DestinationChange,
    Link,
    LinkDestroyRefused,
    LinkQuerySet,
    LinkState,
    QueryForwarding,
    RedirectCode,
    SlugChangeRefused,
    StateChange,
    Tag,
    state_of,
)
from shortener.portability.models import BulkJob, BulkStatus, ExitJob  # noqa: F401
from shortener.safety.models import Decision, LinkHealth, Report  # noqa: F401
from shortener.tokens.models import ApiToken, IdempotencyKey  # noqa: F401
from shortener.visits.models import (  # noqa: F401
    DailyCount,
    DailyStat,
    DailyVisitor,
    Device,
    OrphanKind,
    OrphanVisit,
    PrunedVisits,
    SiteDailyCount,
    SiteDailyStat,
    Visit,
    VisitorSalt,
)
from shortener.workspaces.models import Invitation, Membership, Role, Workspace  # noqa: F401
