"""Torii's settings: every value comes from the environment (and `.env`), with defaults."""

import os
from datetime import timedelta
from pathlib import Path

from django.utils.csp import CSP

from config import environment as env
from config.ratelimit import rates

BASE_DIR = Path(__file__).resolve().parent.parent
env.read_dotenv(BASE_DIR)

DATA_DIR = Path(env.raw("DATA_DIR") or BASE_DIR / "data")
if not DATA_DIR.is_absolute():
    DATA_DIR = BASE_DIR / DATA_DIR
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Prometheus metrics (config/metrics/, docs/operations.md "Metrics"): every process writes
# its figures to files here, which /metrics adds up. prometheus_client reads the variable
# when it is imported, so it is set here, before any module imports it; `manage.py
# reset_metrics` empties the directory when the server starts.
if not (env.raw("PROMETHEUS_MULTIPROC_DIR") or "").strip():  # unset or empty: the default
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
METRICS_DIR = env.directory("PROMETHEUS_MULTIPROC_DIR", DATA_DIR / "metrics", BASE_DIR)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
# The bearer token a scraper sends to GET /metrics; unset: /metrics answers 404.
METRICS_TOKEN = env.raw("METRICS_TOKEN") or ""

SECRET_KEY = env.secret_key("SECRET_KEY", DATA_DIR)
DEBUG = env.boolean("DEBUG", False)
# The hosts the operator names (the ALLOWED_HOSTS variable). Every active short domain
# (the Domain table, through a per-process cache) is served as well, without a line
# here: Django's ALLOWED_HOSTS is "*", which its documentation gives for checking the
# Host oneself in the first middleware, and shortener.domains.served.HostMiddleware,
# first in MIDDLEWARE, checks it against these and the domains (400 for any other).
CONFIGURED_HOSTS = env.string_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
ALLOWED_HOSTS = ["*"]
SECURE_SSL = env.boolean("SECURE_SSL", False)
# Where the pages, the API and admin live, as visitors reach it (scheme, host, port);
# its host is a short domain too (docs/domains.md). Unset: from SITE_HOST, SECURE_SSL
# and PORT, so `make run` on any port shows short URLs that answer.
SITE_URL = env.site_url("SITE_URL", "SITE_HOST", CONFIGURED_HOSTS, SECURE_SSL)
SITE_HOST = env.host_of(SITE_URL)
CSRF_TRUSTED_ORIGINS = env.string_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "waffle",
    "django_ratelimit",
    "ninja",  # its Swagger UI assets are served from our static files, not a CDN
    "config.apps.SiteConfig",
    "django_tasks_db",
    "flags",
    "shortener",
]

MIDDLEWARE = [
    # Outermost: the time of every answer, and each short link's answer (config/metrics/).
    "config.metrics.counting.MetricsMiddleware",
    # First: nothing may read the Host before it is checked (ALLOWED_HOSTS is "*").
    "shortener.domains.served.HostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # /livez, /healthz, /readyz: before anything that reads a link, a domain or a session,
    # so no health path is looked up as a slug or fails for the database first.
    "config.health.HealthMiddleware",
    # Rate limits for every group whose key needs no user (redirects included)...
    "config.ratelimit.middleware.EarlyRateLimitMiddleware",
    # ...then live short links are answered here, before sessions, auth and templates.
    "shortener.redirect.middleware.RedirectMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Short domains answer only their links (shortener/domains.py); static files stay
    # served everywhere so their 404 and 410 pages keep the site's look. Visits to no
    # link (a short domain's root, its 404s) are counted just outside it.
    "shortener.redirect.orphans.OrphanVisitMiddleware",
    "shortener.domains.served.DomainMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF: in maintenance a stale form gets "read-only", not "CSRF failed".
    "config.read_only.ReadOnlyMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After authentication (per-user keys) and htmx (the 429 fragment); before
    # the views. docs/rate-limiting.md.
    "config.ratelimit.middleware.RateLimitMiddleware",
    "waffle.middleware.WaffleMiddleware",
    "flags.audit.ChangedByMiddleware",
    # Changes are the request's user's, through the URL's entry point (the audit log).
    "shortener.audit.middleware.AuditMiddleware",
    "config.error_pages.ErrorPageMiddleware",
]
# One line per request (config/access_log.py); off, the middleware is not installed.
ACCESS_LOG = env.boolean("ACCESS_LOG", False)
if ACCESS_LOG:
    MIDDLEWARE.insert(0, "config.access_log.AccessLogMiddleware")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.password_reset.mail_status",
                "config.read_only.banner",
                "shortener.domains.served.site_links",
                "shortener.oidc.views.sign_in_button",
                "shortener.pages.workspaces.switcher",
            ],
        },
    },
]

# --- Database: SQLite in DATA_DIR by default, PostgreSQL through DATABASE_URL ---
DATABASES = {"default": env.database("DATABASE_URL", f"sqlite:///{DATA_DIR / 'torii.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Tests use a file, not memory, so worker processes they start share the data.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at
    # BEGIN so two workers queue on busy_timeout instead of failing with
    # "database is locked" when a read transaction tries to upgrade. FULL syncs each
    # commit: a visit flush's transaction is on the disk before its journal files go, so
    # a volume that fails (read-only, a power cut) keeps every visit it was told of
    # (one fsync a flush, a second at most, per process; never on the redirect's path).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    # A host that does not answer costs a connection attempt seconds, not minutes.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.integer(
        "DATABASE_CONNECT_TIMEOUT", 5, minimum=1
    )
# The web server's statements wait at most this long (config/database_waits.py; 0: no limit).
DATABASE_STATEMENT_TIMEOUT = env.number("DATABASE_STATEMENT_TIMEOUT", 5, minimum=0)
DATABASES["default"]["CONN_MAX_AGE"] = env.integer("CONN_MAX_AGE", 600, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Caches: shared by every worker process ---
# `default` holds what is read often and written rarely (waffle's flags); `counters`
# what every request increments (rate limits, visit limits).
REDIS_URL = env.redis_url("REDIS_URL")
# Keys in Redis start with it; sites (or a test run beside a site) sharing one Redis
# database need different ones. clear() deletes only the prefix's keys (config/caches.py).
CACHE_KEY_PREFIX = env.key_prefix("CACHE_KEY_PREFIX", "torii")
if REDIS_URL:
    _REDIS = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": CACHE_KEY_PREFIX,
        # A Redis that stops answering must cost a request seconds, not hang it.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
    CACHES = {
        "default": {**_REDIS, "BACKEND": "config.caches.ResilientRedisCache"},
        "counters": {
            **_REDIS,
            "BACKEND": "config.caches.RedisCounterCache",
            "KEY_PREFIX": f"{CACHE_KEY_PREFIX}-counters",
        },
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "config.caches.PersistentDiskCache",
            "LOCATION": str(DATA_DIR / "cache"),
            "TIMEOUT": 300,
        },
        # LMDB: increments without SQLite's write lock, which queued under
        # contention (config/counter_cache.py).
        "counters": {
            "BACKEND": "config.counter_cache.LmdbCounterCache",
            "LOCATION": str(DATA_DIR / "counters"),
            "TIMEOUT": 300,
        },
    }
# The rate limiter (GCRA, config/ratelimit/gcra.py) keeps django-ratelimit's setting
# names: its buckets live in this cache, and RATELIMIT_ENABLE = False switches it off.
RATELIMIT_USE_CACHE = "counters"
RATELIMIT_ENABLE = True

# --- Links and visits ---
SLUG_LENGTH = env.integer("SLUG_LENGTH", 7, minimum=4)
# Seconds between writes of buffered visits (docs/operations.md, "When a process dies").
VISIT_FLUSH_SECONDS = env.number("VISIT_FLUSH_SECONDS", 1.0, minimum=0.05)
# Each process also appends every visit to a journal file here before answering, so a
# killed worker's visits are written by another (shortener/visit_journal.py); empty: off.
VISIT_JOURNAL_DIR = env.directory("VISIT_JOURNAL_DIR", DATA_DIR / "visit-journal", BASE_DIR)
# When that directory cannot be written (a read-only or full data volume), visits are
# journaled here, on another file system; recovery reads both (docs/operations.md).
VISIT_JOURNAL_SPARE_DIR = env.spare_directory("VISIT_JOURNAL_SPARE_DIR", VISIT_JOURNAL_DIR)
# Visits a worker process holds unwritten (in memory and its journal) while the database
# is away; past it, visits are counted as dropped (docs/operations.md).
VISIT_BUFFER_MAX = env.integer("VISIT_BUFFER_MAX", 100_000, minimum=1)
# Through a database outage a worker keeps redirecting the links whose last known state it
# confirmed just before, for at most this many seconds (0: never; docs/operations.md).
OUTAGE_STALE_SECONDS = env.integer("OUTAGE_STALE_SECONDS", 3600, minimum=0)

# The daily backup (shortener/portability/schedule.py, docs/operations.md): off unless set;
# the newest BACKUP_KEEP files are kept.
BACKUP_DIR = (
    env.directory("BACKUP_DIR", DATA_DIR / "backups", BASE_DIR) if env.raw("BACKUP_DIR") else None
)
BACKUP_KEEP = env.integer("BACKUP_KEEP", 7, minimum=1)
# Days of raw visits kept, today included (shortener/visits/retention.py, docs/operations.md):
# older ones are deleted daily and live on in the rollups; unset: kept forever.
VISIT_RETENTION_DAYS = (
    env.integer("VISIT_RETENTION_DAYS", 0, minimum=1) if env.raw("VISIT_RETENTION_DAYS") else None
)
# The browser writes a file of more live redirects than this in the background, into
# EXPORT_DIR, and shows its progress (shortener/portability/exit_jobs.py); files stay a day.
EXPORT_DIRECT_MAX = env.integer("EXPORT_DIRECT_MAX", 10_000, minimum=0)
EXPORT_DIR = env.directory("EXPORT_DIR", DATA_DIR / "exports", BASE_DIR) or DATA_DIR / "exports"

# Visitors' countries (shortener/visits/countries.py, docs/operations.md): a trusted proxy's
# country header, read only behind TRUSTED_PROXY_COUNT proxies; then a MaxMind-format file.
COUNTRY_HEADER = env.header_name("COUNTRY_HEADER")
COUNTRY_HEADER_META = "HTTP_" + COUNTRY_HEADER.upper().replace("-", "_") if COUNTRY_HEADER else ""
# The default file is ip-location-db's geo-whois-asn-country, which `npm ci` installs
# (pinned in package-lock.json); GEOIP_PATH names another file, or `off`.
GEOIP_DEFAULT_PATH = (
    BASE_DIR / "node_modules/@ip-location-db/geo-whois-asn-country-mmdb/geo-whois-asn-country.mmdb"
)
GEOIP_PATH = env.country_database("GEOIP_PATH", BASE_DIR, GEOIP_DEFAULT_PATH)

# --- Rate limiting: config/ratelimit/, docs/rate-limiting.md ---
RATE_LIMITS = {
    "redirect": env.rate("RATE_LIMIT_REDIRECT", "600/m"),
    "create": env.rate("RATE_LIMIT_CREATE", "30/m"),
    "login": env.rate("RATE_LIMIT_LOGIN", "10/m"),
    "api": env.rate("RATE_LIMIT_API", "5000/h"),
    "webhook": env.rate("RATE_LIMIT_WEBHOOK", "600/m"),  # per verified source
    # Per client address: made-up API tokens, unsigned webhooks, unknown sources.
    "auth-failures": env.rate("RATE_LIMIT_AUTH_FAILURES", "20/m"),
    # Guesses at a protected link's password: per client address and, apart, per link.
    "link-password": env.rate("RATE_LIMIT_LINK_PASSWORD", "10/m"),
    # Reports of links (POST /<slug>+report): per client address.
    "report": env.rate("RATE_LIMIT_REPORT", "10/h"),
    "default": env.rate("RATE_LIMIT_DEFAULT", "300/m"),
}
# URL name → group. Name new routes to match; anything unnamed here is
# `default`, and any path under /api/ is also `api`.
RATE_LIMIT_GROUPS = {
    "follow": "redirect",
    "preview": "redirect",
    "link-list": "create",  # POST only (creating a link); a GET is `default`
    "api-link-list": "create",  # POST only; always `api` as well
    "api-link-batch": "create",  # counted once here, then once for each further link made
    "bulk-create": "create",  # the browser's bulk create, counted by the lines it takes
    "login": "login",  # POST only: per client address and per username
    "password_reset": "login",  # POST only: per address and per e-mail address (no mail bombs)
    "webhook-receive": "webhook",  # POST only; the receiver counts a source once verified
    "report": "report",  # POST only: sending a report of a link
    "continue": "redirect",  # past a quarantined link's warning, where staff allow it
}
RATE_LIMIT_EXEMPT = ["healthz"]  # URL names; static files are exempt by path
# Groups that let requests through while the cache is down; the others answer 503.
RATE_LIMIT_FAIL_OPEN = env.choices(
    "RATE_LIMIT_FAIL_OPEN",
    ["redirect", "create", "api", "webhook", "auth-failures", "default"],
    rates.GROUPS,
)
# Distinct reporters (by address) within 24 hours that quarantine a link (shortener/safety/).
REPORT_QUARANTINE_THRESHOLD = env.integer("REPORT_QUARANTINE_THRESHOLD", 3, minimum=1)
# Blocklist feeds the task worker imports daily at 04:00 UTC (shortener/safety/feeds.py,
# docs/operations.md): `source=path` or `source:format=path`, comma-separated.
BLOCKLIST_FEEDS = env.blocklist_feeds("BLOCKLIST_FEEDS", BASE_DIR)
# Link health (the `link_health` flag, shortener/safety/health.py): requests one
# destination host gets from the checker a minute at most.
LINK_HEALTH_PER_HOST_PER_MINUTE = env.integer("LINK_HEALTH_PER_HOST_PER_MINUTE", 10, minimum=1)
# Proxies in front of the app that append to X-Forwarded-For; 0 trusts none.
TRUSTED_PROXY_COUNT = env.integer("TRUSTED_PROXY_COUNT", 0, minimum=0)
# The proxy says which host was asked for: believed only behind trusted proxies.
USE_X_FORWARDED_HOST = TRUSTED_PROXY_COUNT > 0

# --- Webhooks ---
# How long a GitHub-style body is remembered: its delivery id is not signed, so the
# same signed body under a new X-GitHub-Delivery is a replay within this window.
WEBHOOK_REPLAY_WINDOW = timedelta(hours=env.integer("WEBHOOK_REPLAY_WINDOW_HOURS", 24, minimum=1))
# Outbound webhooks (docs/webhooks.md): endpoints must use https unless this is set,
# for development against a receiver without TLS.
WEBHOOKS_ALLOW_HTTP = env.boolean("WEBHOOKS_ALLOW_HTTP", False)
# After a rotation, the previous secret signs deliveries too for this long.
WEBHOOKS_SECRET_GRACE = timedelta(hours=env.integer("WEBHOOKS_SECRET_GRACE_HOURS", 24, minimum=0))
# Never read from the environment: only the test suite sets it, so its receivers on
# 127.0.0.1 can be reached. Everywhere else the safe fetcher refuses loopback.
OUTBOUND_ALLOW_LOOPBACK_FOR_TESTS = False

# --- Background tasks (django.tasks): webhook events are processed by a worker ---
# The database queue needs no server; `make run` starts `manage.py task_worker` beside
# granian. Tests use the immediate backend (tests/conftest.py).
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default"],
    }
}
# A task RUNNING this long is taken for lost with its worker and run again
# (config/stale_tasks.py); tasks must be idempotent, and finish well within it.
TASK_RECLAIM_SECONDS = env.number("TASK_RECLAIM_SECONDS", 300, minimum=1)

# --- Accounts ---
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
# Sign-in with an OpenID Connect provider (shortener/oidc/, docs/operations.md): off
# unless OIDC_ISSUER is set; then its backend follows the password one.
_OIDC = env.oidc()
globals().update(_OIDC)
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]
if _OIDC["OIDC_ENABLED"]:
    AUTHENTICATION_BACKENDS.append("shortener.oidc.backend.ProviderBackend")

# --- Mail: EMAIL_URL (smtp://, smtp+ssl://, console://) and DEFAULT_FROM_EMAIL set
# MAILERS, DEFAULT_FROM_EMAIL, SERVER_EMAIL and EMAIL_CONFIGURED; without EMAIL_URL
# nothing is sent and the password-reset page says to ask staff (config/password_reset.py).
globals().update(env.email("EMAIL_URL", "DEFAULT_FROM_EMAIL"))

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files: whitenoise serves them from the app server ---
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.raw("STATIC_ROOT") or BASE_DIR / "staticfiles")
# Files browsers ask for at fixed root URLs (/favicon.ico), served by whitenoise as they
# are: without it every JSON or plain-text page a browser opens costs a 404 page.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Feature flags (django-waffle with Torii's own flag model) ---
WAFFLE_FLAG_MODEL = "flags.FeatureFlag"
# waffle's own migrations create its Flag tables even when the model is swapped;
# ours are the same migrations with Flag marked swappable (see the file header).
MIGRATION_MODULES = {"waffle": "flags.waffle_migrations"}
WAFFLE_CREATE_MISSING_FLAGS = False  # a typo must not create a flag: flags/registry.py
# Asking for an unregistered flag raises while developing (and in tests); else it is logged.
FLAGS_STRICT_NAMES = DEBUG
WAFFLE_OVERRIDE = False  # never let ?dwft_<flag>=1 turn a flag on
WAFFLE_SECURE = SECURE_SSL

# --- Security ---
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = SECURE_SSL
# Health probes (the container's HEALTHCHECK, a load balancer) ask over plain HTTP from
# inside; a redirect to HTTPS would tell them nothing.
SECURE_REDIRECT_EXEMPT = [r"^(healthz|readyz|livez)$"]
SESSION_COOKIE_SECURE = SECURE_SSL
CSRF_COOKIE_SECURE = SECURE_SSL
# The site's own 403 page for a refused form (Django's names DEBUG and settings).
CSRF_FAILURE_VIEW = "config.error_pages.csrf_failure"
SECURE_HSTS_SECONDS = 31_536_000 if SECURE_SSL else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_SSL
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}

if _OIDC["OIDC_ENABLED"]:
    # The sign-in button's POST is answered by a redirect to the provider, which
    # form-action must allow (browsers apply it to a form's redirects too).
    SECURE_CSP["form-action"].append(_OIDC["OIDC_AUTHORIZATION_ORIGIN"])

SILENCED_SYSTEM_CHECKS = [
    # django-ratelimit only knows memcached and django-redis by name. Our caches
    # are shared between processes and increment atomically: Django's Redis
    # backend uses INCR, diskcache's DjangoCache runs incr in a SQLite
    # transaction (tests/test_shared_cache.py proves both across processes).
    "django_ratelimit.W001",
    # HSTS preload is an irrevocable commitment for the whole domain; the
    # operator opts in at hstspreload.org, not this app.
    "security.W021",
    # MAILERS is empty without EMAIL_URL on purpose: mail is optional, and the pages
    # that would send it say it is not set up.
    "mail.W001",
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "without_traceback": {"()": "config.log_filters.WithoutTraceback"},
        "once_a_minute": {"()": "config.log_filters.Throttle", "seconds": 60},
        "explained_refusals": {"()": "config.log_filters.ExplainedRefusals"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.raw("LOG_LEVEL", "INFO")},
    "loggers": {
        # A request for a host that is not ours gets a 400 and one line, not a traceback.
        "django.security.DisallowedHost": {"filters": ["without_traceback"]},
        # ACCESS_LOG turns the lines on whatever LOG_LEVEL says.
        "torii.access": {"level": "INFO"},
        # The 503 of an uncountable visit is said once a minute by the counters' logger.
        "django.request": {"filters": ["explained_refusals"]},
        # Outages that would say the same on every request: one line a minute each
        # (a logger's filter sees only its own records: each is named).
        **{
            name: {"filters": ["once_a_minute"]}
            for name in (
                "config.caches",
                "config.ratelimit.outage",
                "shortener.redirect.claims",
                "shortener.redirect.lookup",
                "shortener.redirect.views",
                "shortener.visits.countries",
                # What an outage says (config/outages.py, docs/operations.md).
                "config.outages",
                "config.health",
                "shortener.visits.recording",
                "shortener.visits.orphans",  # the counts of visits to no link, kept
                "shortener.domains.served",
            )
        },
    },
}
