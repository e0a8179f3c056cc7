"""A small MaxMind-format country database written for tests (never a real download)."""

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

NETWORKS = {
    "DE": ["192.0.2.0/25"],
    "JP": ["192.0.2.128/25"],
    "US": ["198.51.100.0/24", "2001:db8::/32"],
}


def write_country_database(path: Path, networks: dict[str, list[str]] = NETWORKS) -> Path:
    """A GeoLite2-Country-shaped file: `country.iso_code` for each network."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    for code, cidrs in networks.items():
        writer.insert_network(IPSet(cidrs), {"country": {"iso_code": code}})
    writer.to_db_file(str(path))
    return path
