"""`countries`: the cost of a visit's country lookup in a MaxMind-format file, uncached
(a new address each time) and cached (the same address again), and of the header path."""

import random
import time
from pathlib import Path

LOOKUPS = 20_000


def write_database(path: Path, networks: int = 20_000) -> Path:
    """A country file of `networks` random IPv4 /24s and IPv6 /48s (mmdb-writer), shaped
    like GeoLite2 Country: the tree is as deep as a real file's for those addresses."""
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    rng = random.Random(7)  # noqa: S311 - made-up networks, not secrets
    codes = ["DE", "FR", "US", "JP", "BR", "IN", "NG", "AU", "CA", "GB"]
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    per_code: dict[str, list[str]] = {code: [] for code in codes}
    for n in range(networks):
        code = codes[n % len(codes)]
        if n % 2:
            per_code[code].append(
                f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24"
            )
        else:
            per_code[code].append(
                f"2a{rng.randrange(16):x}{rng.randrange(16):x}:{rng.randrange(65536):x}:{rng.randrange(65536):x}::/48"
            )
    for code, cidrs in per_code.items():
        writer.insert_network(IPSet(cidrs), {"country": {"iso_code": code}})
    writer.to_db_file(str(path))
    return path


def section():
    import tempfile

    from django.test import override_settings

    from shortener.visits import countries

    directory = Path(tempfile.mkdtemp(prefix="torii-bench-countries-"))
    path = write_database(directory / "countries.mmdb")
    rng = random.Random(11)  # noqa: S311 - made-up addresses
    addresses = [
        f"{rng.randrange(1, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
        for _ in range(LOOKUPS)
    ]
    rows = []
    with override_settings(GEOIP_PATH=path, COUNTRY_HEADER_META="", TRUSTED_PROXY_COUNT=0):
        countries.lookup.cache_clear()
        countries.country_of({"REMOTE_ADDR": "192.0.2.1"})  # opens the file
        countries.lookup.cache_clear()
        started = time.perf_counter()
        for address in addresses:
            countries.lookup.cache_clear()
            countries.country_of({"REMOTE_ADDR": address})
        uncached = (time.perf_counter() - started) / LOOKUPS * 1e6
        started = time.perf_counter()
        for _ in range(LOOKUPS):
            countries.country_of({"REMOTE_ADDR": "192.0.2.1"})
        cached = (time.perf_counter() - started) / LOOKUPS * 1e6
    meta = {
        "HTTP_CF_IPCOUNTRY": "DE",
        "HTTP_X_FORWARDED_FOR": "203.0.113.1",
        "REMOTE_ADDR": "10.0.0.1",
    }
    with override_settings(COUNTRY_HEADER_META="HTTP_CF_IPCOUNTRY", TRUSTED_PROXY_COUNT=1):
        started = time.perf_counter()
        for _ in range(LOOKUPS):
            countries.country_of(meta)
        header = (time.perf_counter() - started) / LOOKUPS * 1e6
    rows += [
        ("country from the file, a new address each visit", uncached, "µs"),
        ("country from the file, an address seen before", cached, "µs"),
        ("country from a trusted proxy's header", header, "µs"),
        ("database size (20,000 networks)", path.stat().st_size / 1024, "KB"),
    ]
    countries.lookup.cache_clear()
    return rows
