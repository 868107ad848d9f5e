"""OpenID Connect sign-on for the browser: authorization code flow with PKCE (S256).

1. `begin()` makes a random state, nonce and PKCE verifier, and returns the identity
   provider's authorization URL plus a signed, short-lived cookie value holding them.
2. The provider redirects back with `code` and `state`; `complete()` checks the state
   against the cookie, exchanges the code (with the verifier) at the token endpoint, and
   validates the ID token: signature by a key from the provider's JWKS, issuer, audience
   (and azp), expiry, issued-at and nonce. Only asymmetric algorithms are accepted.
3. The result is an `OidcIdentity`; the groups claim becomes MedFlow groups (those that
   exist in MedFlow), and MEDFLOW_AUTH_EXTERNAL_ROLE_GROUPS maps groups to roles.

Discovery and key sets are fetched with the standard library and cached.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

import jwt

from medflow.auth.config import AuthConfig
from medflow.auth.sessions import Signer
from medflow.errors import UNAUTHENTICATED, MedflowError

LOGIN_STATE_MAX_AGE_MS = 10 * 60_000
ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
DISCOVERY_CACHE_SECONDS = 3600
CLOCK_SKEW_SECONDS = 60


@dataclass(frozen=True)
class OidcIdentity:
    subject: str  # "<issuer>|<sub>": unique and stable across user-name changes at the provider
    username: str
    display_name: str
    email: str
    groups: frozenset[str]


def _fail(message: str) -> MedflowError:
    return MedflowError(UNAUTHENTICATED, f"Single sign-on failed: {message} Start the sign-on again.")


def pkce_challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")


class OidcClient:
    def __init__(self, config: AuthConfig, signer: Signer, *, timeout: float = 10.0):
        if not (config.oidc_issuer and config.oidc_client_id and config.oidc_redirect_uri):
            raise MedflowError.invalid("OIDC sign-on needs MEDFLOW_OIDC_ISSUER, MEDFLOW_OIDC_CLIENT_ID and "
                                       "MEDFLOW_OIDC_REDIRECT_URI.")
        self.config = config
        self.signer = signer
        self.timeout = timeout
        self._metadata: tuple[float, dict] | None = None
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    # --- provider metadata ---------------------------------------------------------------------
    def metadata(self) -> dict:
        with self._lock:
            if self._metadata and time.monotonic() - self._metadata[0] < DISCOVERY_CACHE_SECONDS:
                return self._metadata[1]
        issuer = self.config.oidc_issuer.rstrip("/")
        data = self._get_json(issuer + "/.well-known/openid-configuration")
        if data.get("issuer", "").rstrip("/") != issuer:
            raise _fail("the provider's discovery document names another issuer.")
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not data.get(field):
                raise _fail(f"the provider's discovery document has no {field}.")
        with self._lock:
            self._metadata = (time.monotonic(), data)
            self._jwks = jwt.PyJWKClient(data["jwks_uri"], cache_keys=True, lifespan=DISCOVERY_CACHE_SECONDS,
                                         timeout=int(self.timeout))
        return data

    def _get_json(self, url: str) -> dict:
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            raise _fail("the identity provider could not be reached or answered badly.") from None

    # --- step 1 --------------------------------------------------------------------------------
    def begin(self, now_ms: int) -> tuple[str, str]:
        """(authorization URL to redirect the browser to, value for the login-state cookie)."""
        metadata = self.metadata()
        state, nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        query = urllib.parse.urlencode({
            "response_type": "code", "client_id": self.config.oidc_client_id,
            "redirect_uri": self.config.oidc_redirect_uri, "scope": self.config.oidc_scopes,
            "state": state, "nonce": nonce, "code_challenge": pkce_challenge(verifier),
            "code_challenge_method": "S256"})
        sep = "&" if "?" in metadata["authorization_endpoint"] else "?"
        cookie = self.signer.dumps({"state": state, "nonce": nonce, "verifier": verifier, "t": now_ms}, "oidc-login")
        return f"{metadata['authorization_endpoint']}{sep}{query}", cookie

    # --- step 2 --------------------------------------------------------------------------------
    def complete(self, params: dict[str, str], login_cookie: str | None, now_ms: int) -> OidcIdentity:
        if params.get("error"):
            raise _fail(f"the identity provider answered '{str(params['error'])[:100]}'.")
        login = self.signer.loads(login_cookie, "oidc-login")
        if login is None or now_ms - int(login.get("t", 0)) > LOGIN_STATE_MAX_AGE_MS:
            raise _fail("the sign-on state is missing or expired (sign-on must finish within 10 minutes).")
        if not hmac.compare_digest(str(params.get("state", "")), login["state"]):
            raise _fail("the state returned by the identity provider does not match.")
        code = params.get("code")
        if not code:
            raise _fail("the identity provider returned no authorization code.")
        tokens = self._exchange(code, login["verifier"])
        claims = self.validate_id_token(tokens.get("id_token"), login["nonce"])
        return self.identity(claims)

    def _exchange(self, code: str, verifier: str) -> dict:
        metadata = self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.config.oidc_redirect_uri,
                "client_id": self.config.oidc_client_id, "code_verifier": verifier}
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self.config.oidc_client_secret:
            quote = urllib.parse.quote
            basic = f"{quote(self.config.oidc_client_id)}:{quote(self.config.oidc_client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(basic.encode()).decode()
        request = urllib.request.Request(metadata["token_endpoint"], data=urllib.parse.urlencode(form).encode(),
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError:
            raise _fail("the identity provider refused the authorization code.") from None
        except (urllib.error.URLError, OSError, ValueError):
            raise _fail("the identity provider could not be reached or answered badly.") from None

    def validate_id_token(self, id_token: str | None, nonce: str) -> dict:
        if not id_token:
            raise _fail("the identity provider returned no ID token.")
        metadata = self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in ASYMMETRIC_ALGORITHMS]
        try:
            key = self._jwks.get_signing_key_from_jwt(id_token).key
            claims = jwt.decode(id_token, key, algorithms=algorithms, audience=self.config.oidc_client_id,
                                issuer=metadata["issuer"], leeway=CLOCK_SKEW_SECONDS,
                                options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        except jwt.PyJWTError:
            raise _fail("the ID token is invalid (signature, issuer, audience or expiry).") from None
        if not hmac.compare_digest(str(claims.get("nonce", "")), nonce):
            raise _fail("the ID token's nonce does not match this sign-on.")
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.config.oidc_client_id:
            raise _fail("the ID token was issued to another client (azp).")
        return claims

    def identity(self, claims: dict) -> OidcIdentity:
        username = claims.get(self.config.oidc_username_claim) or claims.get("email") or claims["sub"]
        raw_groups = claims.get(self.config.oidc_groups_claim) or []
        if isinstance(raw_groups, str):
            raw_groups = raw_groups.split(",")
        groups = frozenset(str(g).strip() for g in raw_groups if str(g).strip())
        return OidcIdentity(subject=f"{claims['iss']}|{claims['sub']}", username=str(username),
                            display_name=str(claims.get("name") or username), email=str(claims.get("email") or ""),
                            groups=groups)
