"""Link passwords: the rule for a new one, hashing with Django's hasher, and the signed
cookie that lets one browser follow one protected link again for at most an hour.

The cookie is scoped to the short link's own path, signed with a salt naming the link and
a digest of its stored hash: another link's cookie, an old password's, or one older than
COOKIE_SECONDS is worth nothing. No session, no account.

The password form carries a token of its own instead of Django's CSRF token, which needs
a cookie: signed the same way for the link and its password, good for FORM_SECONDS. It
needs no cookie, so a browser that refuses them can still follow a protected link.
"""

import hashlib

from django.contrib.auth.hashers import (
    check_password,
    identify_hasher,
    is_password_usable,
    make_password,
)
from django.core import signing

PASSWORD_MAX = 128
COOKIE_NAME = "torii_link_pass"
COOKIE_SECONDS = 3600
# How long the password page's form is good for: a visitor who left it open that long
# is shown it again, with a fresh token.
FORM_SECONDS = 86400
FORM_TOKEN_FIELD = "form_token"  # noqa: S105 - a field name, not a secret
EMPTY = "A password cannot be empty; to remove a link's password, choose to remove it."
TOO_LONG = f"A link's password can be at most {PASSWORD_MAX} characters."
NOT_TEXT = "A link's password must be text."
NOT_A_HASH = (
    "The password hash is not one this Torii can check (a Django password hash, as Torii "
    "exports it); the link was not imported, so that it cannot become open to anyone."
)


def password_problem(value) -> str | None:
    """Why `value` cannot be a link's password, or None."""
    if not isinstance(value, str):
        return NOT_TEXT
    if value == "":
        return EMPTY
    if len(value) > PASSWORD_MAX:
        return TOO_LONG
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "The password contains text that is not valid Unicode."
    return None


def hashed(value: str) -> str:
    return make_password(value)


def is_right(value: str, stored: str) -> bool:
    return bool(stored) and isinstance(value, str) and check_password(value, stored)


def signer(link_id: int, stored: str) -> signing.TimestampSigner:
    # The stored hash changes with every new password, so old cookies die with it.
    version = hashlib.sha256(stored.encode()).hexdigest()[:16]
    return signing.TimestampSigner(salt=f"torii.link-password:{link_id}:{version}")


def form_signer(link_id: int, stored: str) -> signing.TimestampSigner:
    version = hashlib.sha256(stored.encode()).hexdigest()[:16]
    return signing.TimestampSigner(salt=f"torii.link-password-form:{link_id}:{version}")


def form_token(link_id: int, stored: str) -> str:
    return form_signer(link_id, stored).sign("password-form")


def form_token_holds(token, link_id: int, stored: str) -> bool:
    """True when `token` was given by this link's password page, for this password,
    within FORM_SECONDS."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return False
    try:
        return form_signer(link_id, stored).unsign(token, max_age=FORM_SECONDS) == "password-form"
    except signing.BadSignature:
        return False


def cookie_value(link_id: int, stored: str) -> str:
    return signer(link_id, stored).sign("unlocked")


def unlocked(cookie: str | None, link_id: int, stored: str) -> bool:
    """True when `cookie` was signed for this link and this password within the hour."""
    if not cookie or len(cookie) > 200:
        return False
    try:
        return signer(link_id, stored).unsign(cookie, max_age=COOKIE_SECONDS) == "unlocked"
    except signing.BadSignature:
        return False


def restored_hash(value) -> str | None:
    """A hash from an export, kept as it is when this site can check passwords against it;
    None otherwise (the row is refused: a protected link never comes back open)."""
    if not isinstance(value, str) or not value.isprintable() or len(value) > 128:
        return None
    if not is_password_usable(value):
        return None
    try:
        identify_hasher(value)
    except ValueError:
        return None
    return value
