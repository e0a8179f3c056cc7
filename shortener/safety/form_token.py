"""The report form's token instead of a CAPTCHA: the time the form was drawn, signed for
one link. A post without one, with someone else's, sooner than FASTEST seconds after
the page (a script does not read) or later than OLDEST is refused. No cookie needed."""

from django.core import signing

FIELD = "form_token"
HONEYPOT = "website"  # hidden from people; scripts that fill every field fill it
FASTEST = 2  # seconds
OLDEST = 2 * 3600

TOO_FAST = "That was quicker than anyone reads a form. Wait a moment, then send it again."
TOO_OLD = "This form was open too long. Send it again."
STALE = "This form did not come from this page. Send it again from the page."
# A form a person really had open, only too briefly or too long: drawn again, fresh.
RETRY = frozenset({TOO_FAST, TOO_OLD})


def signer(link_pk: int) -> signing.Signer:
    return signing.Signer(salt=f"torii.report-form:{link_pk}")


def issue(link_pk: int, now: float) -> str:
    return signer(link_pk).sign(str(int(now)))


def problem(token, link_pk: int, now: float) -> str | None:
    """Why the token does not hold for this link at `now`, in a sentence, or None."""
    if not isinstance(token, str) or not token or len(token) > 200:
        return STALE
    try:
        drawn = int(signer(link_pk).unsign(token))
    except (signing.BadSignature, ValueError):
        return STALE
    age = now - drawn
    if age < FASTEST:
        return TOO_FAST
    if age > OLDEST:
        return TOO_OLD
    return None
