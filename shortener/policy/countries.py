"""Country codes (ISO 3166 alpha-2, "" for unknown), their flags and names (pure)."""

import pycountry

UNKNOWN = ""
ISO_CODES = frozenset(country.alpha_2 for country in pycountry.countries)


def header_country(value: str) -> str:
    """A proxy's country header as a code; unknown for `XX`, Tor's `T1` and junk."""
    code = value.strip().upper()
    return code if code in ISO_CODES else UNKNOWN


def flag(code: str) -> str:
    """The flag emoji of a code (two regional indicator letters); "" for unknown."""
    if len(code) != 2 or code not in ISO_CODES:
        return ""
    return "".join(chr(0x1F1E6 + ord(letter) - ord("A")) for letter in code)


def name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code) if code else None
    return country.name if country is not None else "Unknown"
