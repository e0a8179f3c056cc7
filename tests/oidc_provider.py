"""A real OpenID Connect provider on loopback, for the sign-in tests: discovery, JWKS, the
authorization endpoint and the token endpoint, with RS256 ID tokens signed by PyJWT (the
JOSE library mozilla-django-oidc itself uses) over an RSA key from `cryptography`.

It checks what a provider checks (the client, the registered redirect URI, one use of a
code, the PKCE verifier) and can be told to misbehave for one sign-in (`next_token`,
`authorize_error`, `token_error`), as a broken or hostile provider would.
"""

import base64
import hashlib
import importlib
import json
import secrets
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

PORTS = range(19120, 19130)  # this branch's ports on the shared machine
CLIENT_ID = "torii-test"
CLIENT_SECRET = "a-client-secret-for-tests-long-enough-for-hs256"
KID = "test-key-1"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Provider:
    def __init__(self):
        self.key = new_key()
        self.server = _listen(self)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.reset()

    def reset(self, redirect_uri: str = ""):
        self.redirect_uri = redirect_uri
        self.codes: dict[str, dict] = {}
        self.claims = {"sub": "user-1", "email": "dana@example.com", "email_verified": True}
        self.next_token: dict = {}  # claims overriding (None: dropping) the next ID token's
        self.sign_with = None  # another private key, or "HS256" (the client secret)
        self.header: dict = {"kid": KID}
        self.authorize_error: dict | None = None
        self.token_error: tuple[int, dict] | None = None
        self.requests: list[str] = []

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    # --- what the endpoints answer ---

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    def jwks(self) -> dict:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": KID, "alg": "RS256", "use": "sig"}]}

    def authorize(self, query: dict) -> str:
        """The browser's redirect back to the client (the person signs in at once)."""
        one = {name: values[0] for name, values in query.items()}
        if one.get("client_id") != CLIENT_ID or one.get("redirect_uri") != self.redirect_uri:
            raise ValueError("unknown client or redirect URI")
        back = {"state": one["state"]} if "state" in one else {}
        if self.authorize_error:
            return f"{self.redirect_uri}?{urlencode({**self.authorize_error, **back})}"
        code = secrets.token_urlsafe(16)
        self.codes[code] = one
        return f"{self.redirect_uri}?{urlencode({'code': code, **back})}"

    def token(self, form: dict) -> tuple[int, dict]:
        one = {name: values[0] for name, values in form.items()}
        if self.token_error:
            return self.token_error
        if one.get("client_id") != CLIENT_ID or one.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}
        asked = self.codes.pop(one.get("code", ""), None)  # a code is good once
        if asked is None or one.get("redirect_uri") != asked["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        verifier = one.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if challenge.decode() != asked.get("code_challenge"):
            return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        return 200, {
            "access_token": secrets.token_urlsafe(16),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.id_token(asked.get("nonce")),
        }

    def id_token(self, nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **self.claims,
        }
        for name, value in self.next_token.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        if self.sign_with == "HS256":
            return jwt.encode(claims, CLIENT_SECRET, algorithm="HS256", headers=self.header)
        return jwt.encode(
            claims, self.sign_with or self.key, algorithm="RS256", headers=self.header
        )


def reload_urls():
    """config.urls includes the OIDC URLs only when configured: read it again."""
    from django.urls import clear_url_caches

    import config.urls

    importlib.reload(config.urls)
    clear_url_caches()


@contextmanager
def signing_in_through(provider: Provider, **more_settings):
    """The site configured for this provider (as `config.environment.oidc()` would set it)."""
    from django.test import override_settings

    from shortener.oidc import provider as site_provider

    values = {
        "OIDC_ENABLED": True,
        "OIDC_ISSUER": provider.issuer,
        "OIDC_NAME": "Test SSO",
        "OIDC_RP_CLIENT_ID": CLIENT_ID,
        "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_RP_SCOPES": "openid email profile",
        "OIDC_RP_SIGN_ALGO": "RS256",
        "OIDC_EMAIL_VERIFIED_CLAIM": "email_verified",
        "OIDC_GROUPS_CLAIM": "groups",
        "OIDC_GROUP_ROLES": {},
        "OIDC_TIMEOUT": 5,
        "OIDC_CREATE_USER": True,
        "AUTHENTICATION_BACKENDS": [
            "django.contrib.auth.backends.ModelBackend",
            "shortener.oidc.backend.ProviderBackend",
        ],
        **more_settings,
    }
    site_provider.forget()
    try:
        with override_settings(**values):
            reload_urls()
            provider.reset(redirect_uri=site_provider.redirect_uri())
            yield provider
    finally:
        site_provider.forget()
        reload_urls()


def _listen(provider: Provider) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, status: int, body: dict | None = None, location: str = ""):
            payload = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):
            parts = urlsplit(self.path)
            provider.requests.append(parts.path)
            if parts.path == "/.well-known/openid-configuration":
                return self.answer(200, provider.discovery())
            if parts.path == "/jwks":
                return self.answer(200, provider.jwks())
            if parts.path == "/authorize":
                try:
                    return self.answer(302, location=provider.authorize(parse_qs(parts.query)))
                except (ValueError, KeyError) as error:
                    return self.answer(400, {"error": "invalid_request", "why": str(error)})
            return self.answer(404, {"error": "not_found"})

        def do_POST(self):
            provider.requests.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            if self.path == "/token":
                return self.answer(*provider.token(form))
            return self.answer(404, {"error": "not_found"})

    for port in PORTS:
        try:
            return ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError:
            continue
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1} for the test provider")
