"""Reading configuration from the environment: strict parsers that name the variable."""

import os
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

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
