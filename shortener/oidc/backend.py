"""mozilla-django-oidc's backend, with the checks the site needs said in sentences.

The library exchanges the code (`get_token`), finds the signing key in the provider's JWKS
(`retrieve_matching_jwk`) and matches accounts by e-mail, case-insensitively
(`filter_users_by_claims`). Around it, here: the ID token's signature, audience, issuer and
expiry are checked by PyJWT (the library leaves audience and issuer unchecked), the nonce
must be present and ours, the claims come from the verified ID token (not the userinfo
endpoint, which Entra ID serves from another host without `email_verified`), an e-mail the
provider has not verified is refused, and every refusal is a `SignInRefused` that the
callback shows. Staff rights are never read from the provider: a new account is a plain
one, and an existing account's rights are left as they are.
"""

import hmac
import logging

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import SuspiciousOperation
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from shortener.oidc import claims as claim_rules
from shortener.oidc import provider
from shortener.oidc.refusal import SignInRefused

logger = logging.getLogger(__name__)

# Clocks differ a little between the provider and this site.
LEEWAY_SECONDS = 60
REQUIRED_CLAIMS = ["iss", "aud", "exp", "iat", "sub"]


class ProviderBackend(OIDCAuthenticationBackend):
    def __init__(self, *args, **kwargs):
        # Not the library's: Django builds a backend for every signed-in request, and the
        # endpoints may need the network (discovery). They are read in authenticate().
        self.UserModel = get_user_model()
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request, oidc_nonce=None, oidc_code_verifier=None, **kwargs):
        """Only the callback's call (it passes the nonce); a password sign-in is not ours."""
        if request is None or oidc_nonce is None:
            return None
        self.request = request
        endpoints = provider.endpoints()
        self.OIDC_OP_TOKEN_ENDPOINT = endpoints.token
        self.OIDC_OP_JWKS_ENDPOINT = endpoints.jwks
        answer = self.exchange(request.GET["code"], oidc_code_verifier)
        payload = self.verify_token(answer.get("id_token"), nonce=oidc_nonce)
        return self.get_or_create_user(answer.get("access_token"), answer["id_token"], payload)

    def exchange(self, code: str, code_verifier: str | None) -> dict:
        payload = {
            "client_id": self.OIDC_RP_CLIENT_ID,
            "client_secret": self.OIDC_RP_CLIENT_SECRET,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": provider.redirect_uri(),
        }
        if code_verifier is not None:
            payload["code_verifier"] = code_verifier
        name = settings.OIDC_NAME
        try:
            answer = self.get_token(payload)
        except requests.HTTPError as error:
            said = _error_code(error.response)
            if error.response is not None and error.response.status_code in (400, 401):
                raise SignInRefused(
                    403, f"{name} refused to exchange the sign-in code ({said})."
                ) from error
            raise SignInRefused(502, f"{name}'s token endpoint failed ({said}).") from error
        except (requests.RequestException, ValueError) as error:
            raise SignInRefused(
                502, f"{name}'s token endpoint could not be reached ({type(error).__name__})."
            ) from error
        if not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
            raise SignInRefused(502, f"{name}'s token endpoint answered without an ID token.")
        return answer

    def verify_token(self, token, **kwargs):
        name = settings.OIDC_NAME
        try:
            # Before any key is looked for: "none", or HS256 keyed by the public key or
            # the client secret, is never what this site expects.
            if jwt.get_unverified_header(token).get("alg") != self.OIDC_RP_SIGN_ALGO:
                raise SignInRefused(
                    403, f"The ID token is not signed with {self.OIDC_RP_SIGN_ALGO}."
                )
            key = self.retrieve_matching_jwk(token)
        except (SuspiciousOperation, KeyError):
            raise SignInRefused(
                403, f"The ID token is signed with a key that {name} does not publish."
            ) from None
        except jwt.DecodeError:
            raise SignInRefused(403, "The ID token is not a signed JWT.") from None
        except (requests.RequestException, jwt.PyJWKError, ValueError, TypeError) as error:
            raise SignInRefused(
                502, f"{name}'s signing keys could not be read ({type(error).__name__})."
            ) from error
        payload = self._verify_jws(token, key)
        # OpenID Connect Core 3.1.3.7: among several audiences, azp names the client.
        several = isinstance(payload["aud"], list) and len(payload["aud"]) > 1
        if several and payload.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SignInRefused(
                403,
                "The ID token names several audiences and was not issued to this "
                "site's client id (its azp).",
            )
        nonce, sent = payload.get("nonce"), kwargs.get("nonce") or ""
        if not isinstance(nonce, str) or not nonce:
            raise SignInRefused(
                403, "The ID token carries no nonce, so it cannot be tied to this sign-in."
            )
        if not hmac.compare_digest(nonce.encode(), sent.encode()):
            raise SignInRefused(
                403, "The ID token's nonce is not this sign-in's: it was made for another one."
            )
        return payload

    def _verify_jws(self, payload, key):
        """PyJWT checks the signature, audience, issuer, expiry and not-before."""
        try:
            return jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.InvalidAudienceError:
            raise SignInRefused(
                403,
                "The ID token was issued for another application: its audience is not "
                "this site's client id.",
            ) from None
        except jwt.InvalidIssuerError:
            raise SignInRefused(
                403, f"The ID token was issued by another issuer than {settings.OIDC_ISSUER}."
            ) from None
        except jwt.ExpiredSignatureError:
            raise SignInRefused(403, "The ID token has expired: sign in again.") from None
        except jwt.ImmatureSignatureError:
            raise SignInRefused(
                403, "The ID token is not valid yet: the provider's clock may be ahead."
            ) from None
        except jwt.MissingRequiredClaimError as error:
            raise SignInRefused(403, f"The ID token has no {error.claim} claim.") from None
        except jwt.InvalidAlgorithmError:
            raise SignInRefused(
                403, f"The ID token is not signed with {self.OIDC_RP_SIGN_ALGO}."
            ) from None
        except jwt.InvalidSignatureError:
            raise SignInRefused(
                403, "The ID token's signature does not match the provider's key."
            ) from None
        except jwt.InvalidTokenError as error:
            raise SignInRefused(403, f"The ID token is not valid ({error}).") from None

    def get_userinfo(self, access_token, id_token, payload):
        return payload  # the verified ID token's claims

    def get_or_create_user(self, access_token, id_token, payload):
        refusal = claim_rules.email_refusal(payload, settings.OIDC_EMAIL_VERIFIED_CLAIM)
        if refusal:
            raise SignInRefused(403, refusal)
        email = payload["email"].strip()
        users = list(self.filter_users_by_claims({"email": email})[:2])
        if len(users) > 1:
            raise SignInRefused(
                403,
                f"More than one account here has the e-mail address {email}: ask staff to "
                "change all but one of them.",
            )
        if users:
            if not users[0].is_active:
                raise SignInRefused(403, f"The account for {email} is suspended here.")
            return self.update_user(users[0], payload)
        if not settings.OIDC_CREATE_USER:
            raise SignInRefused(
                403, f"No account here has the e-mail address {email}: ask staff to make one."
            )
        return self.create_user({**payload, "email": email})

    def get_username(self, claims):
        users = self.UserModel.objects
        return claim_rules.username_for(
            claims["email"], lambda name: users.filter(username__iexact=name).exists()
        )

    def create_user(self, claims):
        user = super().create_user(claims)  # no password, no staff rights
        logger.info("OIDC sign-in made the account %s for %s", user.username, user.email)
        return user

    def get_user(self, user_id):
        # ModelBackend's: a suspended account (is_active false) is signed out at once.
        return ModelBackend.get_user(self, user_id)


def _error_code(response) -> str:
    """The OAuth error code of a token endpoint's refusal (RFC 6749 §5.2), or its status."""
    if response is None:
        return "no answer"
    try:
        said = response.json().get("error")
    except (ValueError, AttributeError):
        said = None
    return str(said)[:100] if said else f"HTTP {response.status_code}"
