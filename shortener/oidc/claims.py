"""What an ID token's claims decide: whose e-mail it vouches for, a new account's
username, and which workspace roles its groups name. Pure: no Django, no settings."""

import re
from collections.abc import Callable, Mapping

# The workspace roles of issue 28 (owner, editor, viewer), named here for OIDC_GROUP_ROLES.
ROLES = ("owner", "editor", "viewer")
USERNAME_MAX = 150  # Django's User.username
_NOT_IN_USERNAMES = re.compile(r"[^\w.+-]+")


def email_refusal(claims: Mapping, verified_claim: str = "email_verified") -> str | None:
    """A sentence when the claims vouch for no e-mail address, else None.

    Only a literal true counts as verified: a missing claim, false, or the string "true"
    that some providers' custom mappings send are all refused, since an address the
    provider has not checked would let anyone claim someone else's account.
    """
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email.strip(" @"):
        return "The provider sent no e-mail address, so no account here can be matched."
    if claims.get(verified_claim) is not True:
        return (
            f"The provider has not verified the e-mail address {email}, so it cannot sign "
            "in here: verify it with the provider and try again."
        )
    return None


def username_for(email: str, taken: Callable[[str], bool]) -> str:
    """A new account's username: the e-mail address's part before the @, lowercased, with
    what usernames may not hold made hyphens; if taken, the first free of name-2, name-3…"""
    local = email.strip().rsplit("@", 1)[0].lower()
    base = _NOT_IN_USERNAMES.sub("-", local).strip("-.") or "user"
    base = base[: USERNAME_MAX - 8]
    candidate, number = base, 1
    while taken(candidate):
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def workspace_roles(
    claims: Mapping, groups_claim: str, group_roles: Mapping[str, str]
) -> dict[str, str]:
    """The provider's groups named in OIDC_GROUP_ROLES, each with its role (group → role).

    The claim may be a list of names or one name; anything else names no group. Not
    wired to workspaces yet: the integrator calls this where a sign-in joins members.
    """
    groups = claims.get(groups_claim)
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return {}
    return {
        group: group_roles[group]
        for group in groups
        if isinstance(group, str) and group in group_roles
    }
