"""A tiny OpenID Connect provider for the tests, started by the tests themselves.

No external identity provider can run here, so this stands in for one (Keycloak, Entra ID,
Okta, ...): discovery, an authorization endpoint that signs the configured user in at once,
a token endpoint that checks the PKCE verifier and issues RS256 ID tokens, and a JWKS. Knobs
let a test make it misbehave (wrong audience, expired token, foreign signing key, bad nonce).
"""
from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from tests.servers import LOCALHOST, free_port


@dataclass
class ProviderState:
    client_id: str = "medflow"
    redirect_uri: str = "https://medflow.example/oidc/callback"
    user: dict = field(default_factory=lambda: {"sub": "u-1001", "preferred_username": "dr.house",
                                                "name": "Gregory House", "email": "house@example.org",
                                                "groups": ["cardio-ds", "medflow-admins-not"]})
    audience: str | None = None  # None: the client id
    lifetime: int = 300
    foreign_key: bool = False  # sign with a key that is not in the JWKS
    nonce_override: str | None = None
    codes: dict = field(default_factory=dict)


class OidcProvider:
    def __init__(self):
        self.state = ProviderState()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.port = free_port()
        self.issuer = f"http://{LOCALHOST}:{self.port}"
        self._server: uvicorn.Server | None = None

    # --- endpoints -----------------------------------------------------------------------------
    async def discovery(self, request):
        return JSONResponse({"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                             "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                             "response_types_supported": ["code"], "code_challenge_methods_supported": ["S256"],
                             "id_token_signing_alg_values_supported": ["RS256", "HS256"]})

    async def jwks(self, request):
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return JSONResponse({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]})

    async def authorize(self, request):
        q = request.query_params
        if q.get("client_id") != self.state.client_id or q.get("redirect_uri") != self.state.redirect_uri:
            return JSONResponse({"error": "invalid_client"}, 400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return JSONResponse({"error": "invalid_request", "error_description": "PKCE required"}, 400)
        code = secrets.token_urlsafe(16)
        self.state.codes[code] = {"nonce": q.get("nonce"), "challenge": q["code_challenge"]}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}", 302)

    async def token(self, request):
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}  # no multipart dependency
        grant = self.state.codes.pop(form.get("code"), None)  # single use
        if grant is None or form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "invalid_grant"}, 400)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if challenge != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400)
        now = int(time.time())
        claims = {**self.state.user, "iss": self.issuer, "aud": self.state.audience or self.state.client_id,
                  "iat": now, "exp": now + self.state.lifetime,
                  "nonce": self.state.nonce_override or grant["nonce"]}
        key = self.other_key if self.state.foreign_key else self.key
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        return JSONResponse({"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "id_token": id_token})

    # --- process -------------------------------------------------------------------------------
    def start(self) -> "OidcProvider":
        app = Starlette(routes=[Route("/.well-known/openid-configuration", self.discovery),
                                Route("/jwks", self.jwks), Route("/authorize", self.authorize),
                                Route("/token", self.token, methods=["POST"])])
        self._server = uvicorn.Server(uvicorn.Config(app, host=LOCALHOST, port=self.port, log_level="warning"))
        threading.Thread(target=self._server.run, daemon=True).start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test OIDC provider did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
