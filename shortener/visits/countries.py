"""The visitor's country (ISO 3166 alpha-2, or "" for unknown), never stored with the address.

Sources, in order: the country header of a trusted proxy (COUNTRY_HEADER, read only when
TRUSTED_PROXY_COUNT says proxies stand in front and the request came through them), then
a MaxMind-format database file (GEOIP_PATH: by default ip-location-db's geo-whois-asn-
country, which `npm ci` installs; GeoLite2 Country or DB-IP Lite as well; read with
`maxminddb`). A malformed header, a missing or corrupt file: unknown, never an error.
`answering()` says which file answers and how old it is, for the pages.
"""

import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from time import monotonic

import maxminddb
from django.conf import settings

from shortener.policy.countries import UNKNOWN, header_country

logger = logging.getLogger(__name__)

MAX_FORWARDED_FOR_LENGTH = 4096  # as config/ratelimit/client_address.py
MAX_ADDRESS_LENGTH = 45


def came_through_proxies(forwarded_for: str, trusted_proxies: int) -> bool:
    """True when the request carries the hops of the proxies we trust: only then did our
    proxy write the country header (a client that reaches us directly could forge it)."""
    if trusted_proxies < 1 or not forwarded_for or len(forwarded_for) > MAX_FORWARDED_FOR_LENGTH:
        return False
    return forwarded_for.count(",") + 1 >= trusted_proxies


def record_country(record) -> str:
    """The code in a database record: GeoLite2 and DB-IP `country.iso_code`, else the
    registered country, else a flat `country_code` (other MaxMind-format files)."""
    if not isinstance(record, dict):
        return UNKNOWN
    for key in ("country", "registered_country"):
        part = record.get(key)
        if isinstance(part, dict) and isinstance(part.get("iso_code"), str):
            return header_country(part["iso_code"])
    code = record.get("country_code")
    return header_country(code) if isinstance(code, str) else UNKNOWN


RECHECK_SECONDS = 60.0  # how often a worker looks whether the file was replaced


def file_stamp(path) -> tuple[int, int, int] | None:
    """What changes when the file is replaced or rewritten: inode, size, modification."""
    try:
        found = os.stat(path)
    except (OSError, TypeError, ValueError):
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns


class CountryDatabase:
    """The file at GEOIP_PATH, opened on first use (memory-mapped, so every worker shares
    the pages); a file that is missing or corrupt is logged once and answers unknown.
    Every RECHECK_SECONDS a worker looks at the file and opens it again if it was
    replaced (the monthly update renames a new file over the old: no restart needed)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path: object = None
        self._stamp: tuple[int, int, int] | None = None
        self._recheck_at = float("-inf")
        self._reader = None

    def reader(self):
        path = settings.GEOIP_PATH
        if (path is self._path or path == self._path) and monotonic() < self._recheck_at:
            return self._reader
        with self._lock:
            now = monotonic()
            if path == self._path and now < self._recheck_at:
                return self._reader
            self._recheck_at = now + RECHECK_SECONDS
            stamp = file_stamp(path) if path else None
            if path != self._path or stamp != self._stamp:
                # The old reader is not closed here: a lookup in another thread may hold
                # it still. It closes when the last reference goes.
                self._reader, self._path, self._stamp = None, path, stamp
                lookup.cache_clear()
                if path:
                    self._reader = self._open(path)
        return self._reader

    @staticmethod
    def _open(path):
        try:
            return maxminddb.open_database(str(path), maxminddb.MODE_AUTO)
        except FileNotFoundError:
            if is_shipped(path):
                # npm was missing (README): the site runs, without countries.
                logger.warning(
                    "The country database Torii ships is not installed (%s): countries "
                    "are unknown. Install it with `make install` (needs npm), or set "
                    "GEOIP_PATH to another file or to `off`.",
                    path,
                )
            else:
                logger.error(
                    "GEOIP_PATH %s cannot be read (no such file): countries are unknown", path
                )
        except (OSError, ValueError) as error:  # InvalidDatabaseError is a RuntimeError
            logger.error("GEOIP_PATH %s cannot be read (%s): countries are unknown", path, error)
        except RuntimeError as error:
            logger.error(
                "GEOIP_PATH %s is not a MaxMind DB (%s): countries are unknown", path, error
            )
        return None


database = CountryDatabase()


def is_shipped(path) -> bool:
    return path is not None and path == getattr(settings, "GEOIP_DEFAULT_PATH", None)


@dataclass(frozen=True)
class Answering:
    """The country file that answers, as the stats page names it."""

    file_name: str
    database_type: str  # from the file's metadata: "country", "GeoLite2-Country", ...
    built: date | None  # the metadata's build_epoch
    shipped: bool  # the default Torii installs (its data needs attribution)


def answering() -> Answering | None:
    """The file that answers lookups now, or None (GEOIP_PATH off, missing or corrupt)."""
    if not settings.GEOIP_PATH:
        return None
    reader = database.reader()
    if reader is None:
        return None
    try:
        metadata = reader.metadata()
        built = datetime.fromtimestamp(int(metadata.build_epoch), UTC).date()
        kind = str(metadata.database_type)[:100]
    except (AttributeError, OverflowError, OSError, TypeError, ValueError):
        built, kind = None, ""
    path = database._path
    return Answering(
        file_name=os.path.basename(str(path)),
        database_type=kind,
        built=built,
        shipped=is_shipped(path),
    )


def known_from() -> str:
    """What can tell a visitor's country here: "header", "database", "both" or "" (none,
    and country rules never match)."""
    header = bool(settings.COUNTRY_HEADER_META) and settings.TRUSTED_PROXY_COUNT > 0
    file = answering() is not None
    return {(True, True): "both", (True, False): "header", (False, True): "database"}.get(
        (header, file), ""
    )


@lru_cache(maxsize=8192)  # the same addresses come again and again; memory only
def lookup(address: str) -> str:
    reader = database.reader()
    if reader is None or not address or len(address) > MAX_ADDRESS_LENGTH:
        return UNKNOWN
    try:
        return record_country(reader.get(address))
    except ValueError:  # not an address
        return UNKNOWN
    except Exception:  # a corrupt file fails on the lookup, not always on opening
        # Every failed lookup logs; settings.LOGGING throttles it to a line a minute.
        logger.exception(
            "GEOIP_PATH %s failed a lookup: countries are unknown", settings.GEOIP_PATH
        )
        return UNKNOWN


def country_of(meta, address: str = "") -> str:
    """The visitor's country from the request's META: a trusted proxy's header, else the
    address (the one the rate limiter chose, `request.torii.client_address`; empty,
    REMOTE_ADDR)."""
    key = settings.COUNTRY_HEADER_META
    forwarded_for = meta.get("HTTP_X_FORWARDED_FOR", "")
    if (
        key
        and (value := meta.get(key)) is not None
        and came_through_proxies(forwarded_for, settings.TRUSTED_PROXY_COUNT)
        and (code := header_country(value[:8]))
    ):
        return code
    if not settings.GEOIP_PATH:
        return UNKNOWN
    database.reader()  # a replaced file clears what `lookup` remembers of the old one
    return lookup(address or meta.get("REMOTE_ADDR", ""))
