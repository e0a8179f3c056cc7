"""Reading configuration from the environment: strict parsers that name the variable."""

import hashlib
import os
import re
import secrets
import tempfile
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs

import environ
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email

from config.ratelimit.rates import InvalidRate, Rate, parse_rate

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
DATABASE_SCHEMES = {"sqlite", "postgres", "postgresql", "pgsql"}


def read_dotenv(base_dir: Path) -> None:
    """Load `.env` from the project root when present; real environment wins."""
    path = base_dir / ".env"
    if path.is_file():
        environ.Env.read_env(str(path), overwrite=False)


def raw(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def boolean(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    folded = value.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off."
    )


def integer(name: str, default: int, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be at least {minimum}.")
    return number


def number(name: str, default: float, minimum: float | None = None) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None
    if number != number or (minimum is not None and number < minimum):
        raise ImproperlyConfigured(f"{name}={value!r} must be a number of at least {minimum}.")
    return number


def string_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def directory(name: str, default: Path, base_dir: Path) -> Path | None:
    """A directory made if missing (relative to `base_dir`); set empty, None: turned off."""
    value = os.environ.get(name)
    if value is not None and not value.strip():
        return None
    path = Path(value.strip()) if value is not None else default
    if not path.is_absolute():
        path = base_dir / path
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ImproperlyConfigured(f"{name}={str(path)!r} cannot be made: {error}") from None
    return path


def spare_directory(name: str, journal: Path | None) -> Path | None:
    """Where visits are journaled when `journal`'s volume fails: a directory named for it
    under the system's temporary directory, another file system in a container (the data
    directory is a volume); set empty, or no journal, None. Made only when needed."""
    value = os.environ.get(name)
    if journal is None or (value is not None and not value.strip()):
        return None
    if value is not None:
        path = Path(value.strip())
        if not path.is_absolute():
            raise ImproperlyConfigured(f"{name}={value!r} must be an absolute path.")
        return path
    digest = hashlib.sha256(str(journal).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"torii-visit-journal-spare-{digest}"


HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")


def header_name(name: str) -> str:
    """An HTTP header name (letters, digits, hyphens), or "" when unset."""
    value = (os.environ.get(name) or "").strip()
    if value and not HEADER_NAME.fullmatch(value):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a header name: use letters, digits and hyphens, "
            "for example CF-IPCountry."
        )
    return value


def file_path(name: str, base_dir: Path) -> Path | None:
    """A file's path (relative to `base_dir`), or None when unset. A file that is not
    there yet is allowed: whoever reads it says so then (a download may come later)."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return None
    path = Path(value)
    if not path.is_absolute():
        path = base_dir / path
    if path.is_dir():
        raise ImproperlyConfigured(f"{name}={value!r} is a directory, not a file.")
    return path


FEED_NAME = re.compile(r"[A-Za-z0-9._-]{1,40}")
# shortener.safety.feed_formats.FORMATS (settings cannot import it; a test holds them equal)
FEED_FORMATS = ("auto", "domains", "hosts", "urlhaus", "adblock")


def blocklist_feeds(name: str, base_dir: Path) -> list[dict]:
    """BLOCKLIST_FEEDS: comma-separated `source=path` or `source:format=path` items (paths
    relative to `base_dir`); a file not there yet is allowed, the daily import says so."""
    feeds, seen = [], set()
    for item in string_list(name, []):
        label, sep, path_text = item.partition("=")
        source, _, fmt = label.strip().partition(":")
        fmt = fmt.strip() or "auto"
        if not sep or not path_text.strip() or not FEED_NAME.fullmatch(source):
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not source=path (a source of at most 40 letters, digits, "
                "dots, dashes or underscores, e.g. urlhaus=/srv/feeds/urlhaus.csv)."
            )
        if fmt not in FEED_FORMATS:
            raise ImproperlyConfigured(
                f"{name}: {item!r} names the format {fmt!r}; use one of {', '.join(FEED_FORMATS)}."
            )
        if source in seen:
            raise ImproperlyConfigured(f"{name}: the source {source!r} is named twice.")
        seen.add(source)
        path = Path(path_text.strip())
        feeds.append(
            {
                "source": source,
                "format": fmt,
                "path": path if path.is_absolute() else base_dir / path,
            }
        )
    return feeds


def country_database(name: str, base_dir: Path, default: Path) -> Path | None:
    """GEOIP_PATH: unset or empty is the shipped default, `off` turns countries off,
    anything else is a file as `file_path` reads it."""
    value = (os.environ.get(name) or "").strip()
    if value.lower() == "off":
        return None
    if not value:
        return default
    return file_path(name, base_dir)


def database(name: str, default: str) -> dict:
    value = os.environ.get(name) or default
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a database URL: expected sqlite:///path or "
            "postgres://user@host:port/name."
        )
    try:
        config = environ.Env.db_url_config(value)
    except Exception as error:  # django-environ raises several kinds for junk
        raise ImproperlyConfigured(f"{name} could not be parsed: {error}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}={value!r} names no database.")
    return config


def site_host(name: str, allowed_hosts: list[str]) -> str:
    """The site's own host name; unset, the first ALLOWED_HOSTS entry that names one host."""
    from shortener.policy.targets import domain_host  # pure: no models, safe while settings load

    value = os.environ.get(name, "").strip()
    if not value:
        names = [h.lstrip(".") for h in allowed_hosts if h not in ("*", "") and "[" not in h]
        return domain_host(names[0]).url or "localhost" if names else "localhost"
    verdict = domain_host(value)
    if not verdict.ok and "://" not in value and value.count(":") == 1:
        raise ImproperlyConfigured(
            f"{name}={value!r} has a port: {name} is a host name only; put the port in "
            f"SITE_URL instead, such as SITE_URL=http://{value}."
        )
    if not verdict.ok:
        raise ImproperlyConfigured(f"{name}={value!r}: {verdict.reason}")
    return verdict.url


SITE_URL_SHAPE = "such as https://go.example.com or http://localhost:18431"


def site_url(name: str, host_name: str, allowed_hosts: list[str], secure: bool) -> str:
    """The scheme, host and port visitors use for the site's own host, as one URL.

    From `name` (SITE_URL) when set, strictly: http(s), a host name, an optional port,
    nothing else. Unset, from SITE_HOST (or ALLOWED_HOSTS) with https and no port
    behind TLS (SECURE_SSL: a proxy answers on 443), else http and the PORT that
    `make run` serves on, so a first run on any port gives short URLs that answer.
    """
    from shortener.policy.targets import origin  # pure: no models, safe while settings load

    value = os.environ.get(name, "").strip()
    if not value:
        host = site_host(host_name, allowed_hosts)
        if secure:
            return origin("https", host, None)
        return origin("http", host, port_number("PORT"))
    url = _site_url(name, value)
    if secure and not url.startswith("https://"):
        raise ImproperlyConfigured(
            f"{name}={value!r} is http while SECURE_SSL is on, which sends every visitor "
            "to https: use https://."
        )
    given_host = os.environ.get(host_name, "").strip()
    host = host_of(url)
    if given_host and site_host(host_name, allowed_hosts) != host:
        raise ImproperlyConfigured(
            f"{host_name}={given_host!r} and {name}={value!r} name different hosts: "
            f"set {name} alone (SITE_HOST follows from it)."
        )
    return url


def _site_url(name: str, value: str) -> str:
    from shortener.policy.targets import DEFAULT_PORTS, domain_host, origin  # pure, as above

    def refuse(why: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"{name}={value!r} {why}")

    scheme, separator, rest = value.partition("://")
    scheme = scheme.lower()
    if not separator or scheme not in DEFAULT_PORTS:
        raise refuse(f"is not a site URL: start it with http:// or https://, {SITE_URL_SHAPE}.")
    netloc, _, path = rest.partition("/")
    if path or any(mark in netloc for mark in "?#"):
        raise refuse(
            f"has a path, query or fragment: give scheme, host and port only, {SITE_URL_SHAPE}."
        )
    if "@" in netloc:
        raise refuse("has a user name or password in it: give scheme, host and port only.")
    if netloc.startswith("["):
        raise refuse("names an IP address: the site's host is a host name, such as localhost.")
    if netloc.count(":") > 1:
        raise refuse(
            "has an IPv6 address without brackets (or several colons): give a host name, "
            "such as localhost, and at most one :port."
        )
    host, colon, port = netloc.partition(":")
    if colon and not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise refuse(f"has the port {port!r}: a port is a number from 1 to 65535.")
    verdict = domain_host(host)
    if not verdict.ok:
        raise refuse(f"has no valid host name: {verdict.reason}")
    return origin(scheme, verdict.url, int(port) if colon else None)


def host_of(url: str) -> str:
    """The host of a URL `site_url` gave (a name: never an IPv6 literal)."""
    return url.split("://", 1)[1].rsplit(":", 1)[0]


def port_number(name: str) -> int | None:
    """A TCP port (1-65535), or None when unset."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and 1 <= int(value) <= 65535):
        raise ImproperlyConfigured(f"{name}={value!r} is not a port: a number from 1 to 65535.")
    return int(value)


KEY_PREFIX = re.compile(r"[A-Za-z0-9._-]{1,64}")


def key_prefix(name: str, default: str) -> str:
    """A cache key prefix: letters, digits, dots, hyphens and underscores (no `:`, which
    ends a prefix in Django's keys, nor a glob character, which clearing matches with)."""
    value = (os.environ.get(name) or "").strip()
    if not value:
        return default
    if not KEY_PREFIX.fullmatch(value):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a key prefix: use up to 64 letters, digits, "
            "dots, hyphens and underscores, for example torii-staging."
        )
    return value


def redis_url(name: str) -> str | None:
    value = os.environ.get(name)
    if not value:
        return None
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a Redis URL: expected redis://host:port/db."
        )
    return value


def secret_key(name: str, data_dir: Path) -> str:
    """The secret key from the environment, else one generated once and kept in DATA_DIR."""
    value = os.environ.get(name)
    if value:
        return value
    path = data_dir / "secret_key"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another worker wrote it first; read theirs
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(key)
    return path.read_text().strip()


def rate(name: str, default: str) -> Rate | None:
    """A rate-limit rate such as `600/m` or `off`; a malformed one names the variable."""
    value = os.environ.get(name, default)
    try:
        return parse_rate(value)
    except InvalidRate as error:
        raise ImproperlyConfigured(f"{name}={error}") from None


def choices(name: str, default: list[str], allowed: tuple[str, ...]) -> list[str]:
    """A comma-separated list whose every item is one of `allowed`."""
    items = string_list(name, default)
    unknown = [item for item in items if item not in allowed]
    if unknown:
        raise ImproperlyConfigured(
            f"{name}={os.environ.get(name)!r} names {', '.join(unknown)}: "
            f"choose from {', '.join(allowed)}."
        )
    return items


# EMAIL_URL schemes: django-environ's names for SMTP, plus `console` for development.
# Its other schemes are left out on purpose: `dummymail` would let the password-reset
# page say "sent" while nothing is.
SMTP_SCHEMES = {"smtp": None, "smtp+tls": "tls", "smtps": "tls", "smtp+ssl": "ssl"}
CONSOLE_SCHEMES = {"console", "consolemail"}
EMAIL_OPTIONS = ("tls", "ssl", "timeout")


def email(url_name: str, from_name: str) -> dict:
    """MAILERS, DEFAULT_FROM_EMAIL and EMAIL_CONFIGURED from EMAIL_URL and DEFAULT_FROM_EMAIL.

    Without EMAIL_URL there is no mailer, and the pages that would send mail say so.
    """
    value = os.environ.get(url_name, "").strip()
    if not value:
        return {"EMAIL_CONFIGURED": False, "MAILERS": {}}
    shown = _without_password(value)
    scheme, separator, rest = value.partition("://")
    scheme = scheme.lower()
    if scheme in CONSOLE_SCHEMES:
        mailer = {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
        return _configured(mailer, _from_address(from_name, required=False))
    if not separator:
        raise ImproperlyConfigured(
            f"{url_name}={shown!r} is not a mail URL: expected "
            "smtp://user:password@host:587/?tls=true, smtp+ssl://user:password@host "
            "or console://."
        )
    if scheme not in SMTP_SCHEMES:
        raise ImproperlyConfigured(
            f"{url_name}={shown!r} has an unknown scheme {scheme!r}: use smtp, smtp+tls, "
            "smtp+ssl or console."
        )
    address, _, query = value.partition("?")
    try:
        config = environ.Env.email_url_config(address)
    except Exception as error:  # a port that is not a number, among others
        raise ImproperlyConfigured(f"{url_name}={shown!r} could not be parsed: {error}") from None
    if not config.get("EMAIL_HOST") or not rest:
        raise ImproperlyConfigured(f"{url_name}={shown!r} names no host.")
    security = SMTP_SCHEMES[scheme]
    timeout = 10.0  # a hung mail server must not hold a web worker for ever
    # django-environ passes query values on as strings ("False" is true), so we read them.
    for key, values in parse_qs(query, keep_blank_values=True).items():
        option, setting = key.lower(), values[-1]
        if option not in EMAIL_OPTIONS:
            raise ImproperlyConfigured(
                f"{url_name}={shown!r} has an unknown option {key!r}: "
                f"use {', '.join(EMAIL_OPTIONS)}."
            )
        if option == "timeout":
            try:
                timeout = float(setting)
            except ValueError:
                timeout = -1
            if not 0 < timeout < float("inf"):
                raise ImproperlyConfigured(
                    f"{url_name}={shown!r}: timeout={setting!r} is not a number of seconds."
                )
            continue
        folded = setting.strip().lower()
        if folded not in _TRUE | _FALSE:
            raise ImproperlyConfigured(
                f"{url_name}={shown!r}: {key}={setting!r} is not a boolean (true or false)."
            )
        if folded in _TRUE:
            if security not in (None, option):
                raise ImproperlyConfigured(
                    f"{url_name}={shown!r} asks for both TLS and SSL: choose one."
                )
            security = option
        elif security == option:
            security = None
    options = {
        "host": config["EMAIL_HOST"],
        "port": config["EMAIL_PORT"],  # None: Django picks 25, 587 (tls) or 465 (ssl)
        "username": config["EMAIL_HOST_USER"] or "",
        "password": config["EMAIL_HOST_PASSWORD"] or "",
        "use_tls": security == "tls",
        "use_ssl": security == "ssl",
        "timeout": timeout,
    }
    mailer = {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}
    return _configured(mailer, _from_address(from_name, required=True))


def _configured(mailer: dict, sender: dict) -> dict:
    return {"EMAIL_CONFIGURED": True, "MAILERS": {"default": mailer}, **sender}


def _from_address(name: str, *, required: bool) -> dict:
    """DEFAULT_FROM_EMAIL (and SERVER_EMAIL): `torii@example.com` or `Torii <torii@…>`."""
    value = os.environ.get(name, "").strip()
    if not value:
        if required:
            raise ImproperlyConfigured(
                f"{name} is needed with an SMTP EMAIL_URL: the address mail is sent from, "
                "such as 'Torii <torii@example.com>'."
            )
        value = "torii@localhost"
    _, address = parseaddr(value)
    try:
        validate_email(address)
    except ValidationError:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a mail address such as 'Torii <torii@example.com>'."
        ) from None
    return {"DEFAULT_FROM_EMAIL": value, "SERVER_EMAIL": value}


def _without_password(url: str) -> str:
    """The URL as an error message may show it: the password replaced by ***."""
    scheme, separator, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{separator}{user}:***@{host}"


OIDC_SCOPES_DEFAULT = "openid email profile"
# Asymmetric only: an HS* token is signed with the client secret, which the site holds too.
OIDC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
OIDC_DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
OIDC_ENDPOINTS = {
    "OIDC_AUTHORIZATION_ENDPOINT": "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "OIDC_TOKEN_ENDPOINT": "OIDC_OP_TOKEN_ENDPOINT",
    "OIDC_JWKS_URI": "OIDC_OP_JWKS_ENDPOINT",
}


def _provider_url(name: str, value: str) -> str:
    """https, or http on a loopback host (development, the tests' own provider)."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    loopback = parts.hostname in {"localhost", "127.0.0.1", "::1"}
    if not parts.hostname or parts.scheme not in ({"https", "http"} if loopback else {"https"}):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not an https URL (http is allowed only on localhost), "
            "such as https://sso.example.com/realms/main."
        )
    if parts.query or parts.fragment:
        raise ImproperlyConfigured(f"{name}={value!r} must have no query or fragment.")
    return value


def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def oidc() -> dict:
    """Settings for signing in with an OpenID Connect provider (shortener/oidc/).

    Off, with every OIDC_* setting left unset, unless OIDC_ISSUER is set; then the
    client id and secret must be too. The issuer is the provider's `iss` (its discovery
    URL is accepted and trimmed); the three endpoints are read from its discovery
    document unless all of them are given. mozilla-django-oidc reads its own names
    (OIDC_RP_*, OIDC_OP_*, OIDC_TIMEOUT), so they are set here under those.
    """
    issuer = (os.environ.get("OIDC_ISSUER") or "").strip()
    client_id = (os.environ.get("OIDC_CLIENT_ID") or "").strip()
    secret = os.environ.get("OIDC_CLIENT_SECRET") or ""
    if not issuer:
        for name in ("OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", *OIDC_ENDPOINTS):
            if (os.environ.get(name) or "").strip():
                raise ImproperlyConfigured(
                    f"{name} is set but OIDC_ISSUER is not: set OIDC_ISSUER to the "
                    "provider's issuer URL to turn sign-in with it on, or unset " + name + "."
                )
        return {"OIDC_ENABLED": False}
    if issuer.endswith(OIDC_DISCOVERY_SUFFIX):
        issuer = issuer.removesuffix(OIDC_DISCOVERY_SUFFIX)
    issuer = _provider_url("OIDC_ISSUER", issuer)
    for name, value in (("OIDC_CLIENT_ID", client_id), ("OIDC_CLIENT_SECRET", secret)):
        if not value.strip():
            raise ImproperlyConfigured(
                f"OIDC_ISSUER is set but {name} is not: copy it from the provider's "
                "client (application) for this site."
            )
    endpoints = {
        name: _provider_url(name, value.strip())
        for name in OIDC_ENDPOINTS
        if (value := os.environ.get(name) or "").strip()
    }
    if endpoints and len(endpoints) != len(OIDC_ENDPOINTS):
        missing = ", ".join(name for name in OIDC_ENDPOINTS if name not in endpoints)
        raise ImproperlyConfigured(
            f"{missing} unset while other OIDC endpoints are set: set all three, "
            "or none to read them from the provider's discovery document."
        )
    scopes = (os.environ.get("OIDC_SCOPES") or OIDC_SCOPES_DEFAULT).split()
    if "openid" not in scopes or "email" not in scopes:
        raise ImproperlyConfigured(
            f"OIDC_SCOPES={' '.join(scopes)!r} must include openid and email: "
            "an account is found by its verified e-mail address."
        )
    algorithm = (os.environ.get("OIDC_SIGN_ALGORITHM") or "RS256").strip()
    if algorithm not in OIDC_ALGORITHMS:
        raise ImproperlyConfigured(
            f"OIDC_SIGN_ALGORITHM={algorithm!r}: choose from {', '.join(OIDC_ALGORITHMS)}."
        )
    authorization = endpoints.get("OIDC_AUTHORIZATION_ENDPOINT", issuer)
    return {
        "OIDC_ENABLED": True,
        "OIDC_ISSUER": issuer,
        # The sign-in page's form-action must allow it; discovery's endpoint is expected
        # on the issuer's origin, as Keycloak's, Authentik's, Google's and Entra ID's are.
        "OIDC_AUTHORIZATION_ORIGIN": _origin(authorization),
        "OIDC_NAME": (os.environ.get("OIDC_NAME") or "").strip() or "single sign-on",
        "OIDC_RP_CLIENT_ID": client_id,
        "OIDC_RP_CLIENT_SECRET": secret,
        "OIDC_RP_SCOPES": " ".join(scopes),
        "OIDC_RP_SIGN_ALGO": algorithm,
        **{OIDC_ENDPOINTS[name]: url for name, url in endpoints.items()},
        "OIDC_EMAIL_VERIFIED_CLAIM": (
            os.environ.get("OIDC_EMAIL_VERIFIED_CLAIM") or "email_verified"
        ).strip(),
        "OIDC_GROUPS_CLAIM": (os.environ.get("OIDC_GROUPS_CLAIM") or "groups").strip(),
        "OIDC_GROUP_ROLES": group_roles("OIDC_GROUP_ROLES"),
        "OIDC_TIMEOUT": number("OIDC_TIMEOUT", 5, minimum=0.1),
        # Off: only people who already have an account here (by e-mail) get in.
        "OIDC_CREATE_USER": boolean("OIDC_CREATE_ACCOUNTS", True),
        # The code is bound to this browser's session by a PKCE verifier as well as the state.
        "OIDC_USE_PKCE": True,
        "OIDC_USE_NONCE": True,
    }


def group_roles(name: str) -> dict[str, str]:
    """`group=role,other=role` (OIDC_GROUP_ROLES): a provider group to a workspace role."""
    from shortener.oidc.claims import ROLES  # pure: no models, safe while settings load

    value = (os.environ.get(name) or "").strip()
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        group, equals, role = (piece.strip() for piece in item.rpartition("="))
        if not equals or not group or role not in ROLES:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not group=role with a role among {', '.join(ROLES)}, "
                "such as torii-editors=editor."
            )
        mapping[group] = role
    return mapping
