"""Signature checks for webhook deliveries: Standard Webhooks and GitHub style. No ORM.

Each check takes the source's secrets, the request headers and the raw body bytes and
returns the delivery id, or raises `SignatureRefused` with a short reason that never
contains secret material.
"""

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping, Sequence

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

TOLERANCE_SECONDS = 5 * 60
MAX_SIGNATURES = 16
_DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, as signed
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_GITHUB_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")


class SignatureRefused(Exception):
    """The delivery is not authentic (or cannot be checked); `reason` is safe to show."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def verify_standard(
    secrets: Sequence[str], headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> str:
    """Check a Standard Webhooks delivery against any of the secrets; return its webhook-id.

    The headers are read strictly before the `standardwebhooks` library sees them: it
    raises ValueError, binascii.Error and UnicodeDecodeError on malformed input, and
    accepts fractional timestamps that it then signs differently.
    """
    names = ("webhook-id", "webhook-timestamp", "webhook-signature")
    delivery_id, timestamp, signature = (headers.get(name, "") for name in names)
    missing = [name for name in names if not headers.get(name)]
    if missing:
        raise SignatureRefused(f"Missing header: {', '.join(missing)}.")
    if not _DELIVERY_ID.fullmatch(delivery_id):
        raise SignatureRefused("The webhook-id header must be 1 to 255 printable ASCII characters.")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureRefused("The webhook-timestamp header must be whole seconds since 1970.")
    skew = int(timestamp) - int(time.time() if now is None else now)
    # The library compares against a clock with fractions of a second: exactly 300 s old
    # may already be too old for it, so it is refused here, with the right reason.
    if skew <= -TOLERANCE_SECONDS:
        raise SignatureRefused("The webhook-timestamp is more than 5 minutes old.")
    if skew > TOLERANCE_SECONDS:
        raise SignatureRefused("The webhook-timestamp is more than 5 minutes in the future.")
    candidates = v1_signatures(signature)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureRefused("The body is not UTF-8, so it cannot be verified.") from None
    checked = {"webhook-id": delivery_id, "webhook-timestamp": timestamp}
    checked["webhook-signature"] = " ".join(candidates)
    for secret in secrets:
        try:
            webhook = Webhook(secret)
        except (ValueError, TypeError, RuntimeError, EmptyWebhookSecretError):
            continue  # a damaged stored secret must not break the others
        try:
            webhook.verify(text, checked, json_parse=False)
        except (WebhookVerificationError, ValueError, UnicodeError):
            continue
        return delivery_id
    raise SignatureRefused("No signature matches.")


def v1_signatures(header: str) -> list[str]:
    """The well-formed `v1,<base64 of 32 bytes>` entries of a webhook-signature header.

    Entries of other versions are skipped (the specification allows them); a header
    with no usable v1 entry is refused as malformed.
    """
    entries = header.split(" ")
    if len(entries) > MAX_SIGNATURES:
        raise SignatureRefused(f"More than {MAX_SIGNATURES} signatures in webhook-signature.")
    found = []
    for entry in entries:
        version, comma, encoded = entry.partition(",")
        if version != "v1" or not comma:
            continue
        try:
            if len(base64.b64decode(encoded, validate=True)) == hashlib.sha256().digest_size:
                found.append(entry)
        except (binascii.Error, ValueError):
            continue
    if not found:
        raise SignatureRefused("The webhook-signature header has no well-formed v1 signature.")
    return found


def verify_github(secrets: Sequence[str], headers: Mapping[str, str], body: bytes) -> str:
    """Check `X-Hub-Signature-256: sha256=<hex>` (HMAC of the body); return X-GitHub-Delivery."""
    header = headers.get("x-hub-signature-256", "")
    if not header:
        raise SignatureRefused("Missing header: X-Hub-Signature-256.")
    match = _GITHUB_SIGNATURE.fullmatch(header)
    if not match:
        raise SignatureRefused("The X-Hub-Signature-256 header must be sha256= and 64 hex digits.")
    given = bytes.fromhex(match.group(1))
    if not any(
        hmac.compare_digest(hmac.new(s.encode(), body, hashlib.sha256).digest(), given)
        for s in secrets
    ):
        raise SignatureRefused("No signature matches.")
    delivery_id = headers.get("x-github-delivery", "")
    if not _DELIVERY_ID.fullmatch(delivery_id):
        raise SignatureRefused("The X-GitHub-Delivery header is missing or malformed.")
    return delivery_id
