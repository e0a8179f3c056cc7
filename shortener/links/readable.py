"""Stored destinations as a person should read them: for display only, never for links.

A target is stored ASCII (see targets.py); this turns its A-label host back into
Unicode and decodes the UTF-8 escapes in its path, query and fragment, except
where showing the character would mislead: a host label made only of letters that
imitate Latin ones, mixed scripts, and anything invisible, blank or bidi.
"""

import functools
import re
import unicodedata
from urllib.parse import urlsplit

import idna

_PERCENT_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
# Letters of other scripts that look like Latin ones: a label made only of these
# (a Cyrillic "apple", xn--80ak6aa92e) stays in its xn-- form under a Latin TLD.
_LATIN_LOOKALIKES = frozenset("авекмнорстухіјӏԁѕԛԝһԍүѵοαρνικτυεχꭺꮃꮯꮪꭼ")
_NEVER_SHOWN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs", "Mn", "Me"})


def readable(url: str) -> str:
    """`https://xn--e1afmkfd.xn--p1ai/wiki/%D0%96` reads `https://пример.рф/wiki/Ж`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.netloc or "@" in parts.netloc:
        return url
    prefix = url[: len(parts.scheme) + 3]
    if parts.netloc.startswith("["):  # an IPv6 literal reads as it is
        netloc = parts.netloc
    else:
        host = parts.netloc.rpartition(":")[0] if ":" in parts.netloc else parts.netloc
        netloc = _readable_host(host) + parts.netloc[len(host) :]
    rest = url[len(prefix) + len(parts.netloc) :]
    return prefix + netloc + _PERCENT_RUN.sub(_decode_run, rest)


@functools.lru_cache(maxsize=4096)  # Punycode decoding is most of the cost; hosts repeat
def _readable_host(host: str) -> str:
    labels = [_unicode_label(label) for label in host.split(".")]
    tld_scripts = _scripts(labels[-1] or (labels[-2] if len(labels) > 1 else ""))
    shown = []
    for label, unicode_label in zip(host.split("."), labels, strict=True):
        shown.append(unicode_label if _safe_to_show(unicode_label, tld_scripts) else label)
    return ".".join(shown)


def _unicode_label(label: str) -> str:
    if not label.lower().startswith("xn--"):
        return label
    try:
        return idna.ulabel(label)
    except idna.IDNAError:
        return label


def _safe_to_show(label: str, tld_scripts: set[str]) -> bool:
    if label.isascii():
        return True
    scripts = _scripts(label)
    if len(scripts) > 1:
        return False
    lookalike = all(ch in _LATIN_LOOKALIKES or not ch.isalpha() for ch in label)
    if lookalike and scripts != tld_scripts:  # тест.рф is shown; тест.com is not
        return False
    return not any(unicodedata.category(ch) in _NEVER_SHOWN - {"Mn"} for ch in label)


def _scripts(label: str) -> set[str]:
    return {_script(ch) for ch in label} - {"COMMON"}


def _script(ch: str) -> str:
    """A character's script, roughly, from its Unicode name (stdlib has no Script property)."""
    if ch.isascii():
        return "LATIN" if ch.isalpha() else "COMMON"
    if unicodedata.category(ch).startswith("M"):
        return "COMMON"  # combining marks belong to the letter they sit on
    name = unicodedata.name(ch, "")
    if name.startswith(("CJK ", "HIRAGANA", "KATAKANA")):
        return "HAN"  # Japanese writes Han and kana together in one label
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def _decode_run(match: re.Match[str]) -> str:
    """Decode one run of %XX escapes where that only reveals printable non-ASCII text."""
    data = bytes.fromhex(match.group(0).replace("%", ""))
    out, index = [], 0
    while index < len(data):
        byte = data[index]
        width = 4 if byte >= 0xF0 else 3 if byte >= 0xE0 else 2 if byte >= 0xC0 else 1
        chunk = data[index : index + width]
        try:
            char = chunk.decode("utf-8") if byte >= 0x80 else ""
        except UnicodeDecodeError:
            char = ""
        # ASCII escapes (%20, %2F, %25) mean something, and hidden characters hide.
        if len(char) != 1 or unicodedata.category(char) in _NEVER_SHOWN:
            out.append(f"%{byte:02X}")
            index += 1
            continue
        out.append(char)
        index += width
    return "".join(out)
