"""One rule for the free text of a link (title, notes): what can be stored and shown safely.

Pure functions. Refused: text that is not valid Unicode (lone surrogates, which no
database or encoder accepts), control characters (ANSI escapes, BEL, NUL; notes may
keep line breaks and tabs) and the bidirectional overrides and isolates that make text
read differently from what it holds.
"""

import unicodedata

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MULTILINE_ALLOWED = frozenset("\n\r\t")


def is_unencodable(value: str) -> bool:
    """Does the text hold a lone surrogate (it cannot be written as UTF-8)?"""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def text_problem(value: str, *, label: str, max_length: int, multiline: bool = False) -> str | None:
    """Why `value` cannot be stored as this field, in a sentence, or None."""
    if is_unencodable(value):
        return f"The {label} contains text that is not valid Unicode; remove or retype it."
    for ch in value:
        if multiline and ch in MULTILINE_ALLOWED:
            continue
        if unicodedata.category(ch) == "Cc" or ch in BIDI_CONTROLS:
            return (
                f"The {label} contains control or text-direction characters "
                f"(such as U+{ord(ch):04X}); remove them."
            )
    if len(value) > max_length:
        return f"The {label} is at most {max_length:,} characters; this one has {len(value):,}."
    return None
