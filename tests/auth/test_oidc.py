"""OIDC sign-on (authorization code + PKCE) against a small OIDC provider started by this test
(tests/auth/oidc_provider.py): no external identity provider can run here, so that one stands in
for it. Everything on MedFlow's side is real: discovery, PKCE, state and nonce, code exchange,
JWKS signature check, claims validation, group mapping, account provisioning and the session."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import requests

from medflow.auth.authenticate import Authenticator
from medflow.auth.oidc import OidcClient
from medflow.auth.sessions import Signer
from medflow.errors import MedflowError
from medflow.services.clock import now_ms
from tests.auth.conftest import PASSWORD, fast_config, unique
from tests.auth.oidc_provider import OidcProvider


@pytest.fixture(scope="module")
def provider():
    p = OidcProvider().start()
    yield p
    p.stop()


@pytest.fixture
def client(provider):
    provider.state.audience, provider.state.foreign_key, provider.state.nonce_override = None, False, None
    provider.state.lifetime = 300
    config = fast_config(oidc_issuer=provider.issuer, oidc_client_id="medflow",
                         oidc_redirect_uri=provider.state.redirect_uri,
                         auth_external_role_groups="medflow-data-scientists=data_scientist")
    return OidcClient(config, Signer(b"s" * 32))


def sign_on(client):
    """What the browser does: follow MedFlow's redirect to the provider, come back with code and state."""
    url, cookie = client.begin(now_ms())
    query = parse_qs(urlparse(url).query)
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert query["state"][0] not in cookie  # state, nonce and verifier travel signed, never in clear
    response = requests.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    back = {k: v[0] for k, v in parse_qs(urlparse(response.headers["Location"]).query).items()}
    return back, cookie


def test_sign_on_maps_groups_provisions_the_account_and_opens_a_session(provider, client, auth_db, auth):
    group = "cardio-ds"
    try:
        auth.directory.create_group(group)
    except MedflowError:
        pass
    user = unique("dr.house")
    provider.state.user = {"sub": unique("sub"), "preferred_username": user, "name": "Gregory House",
                           "groups": [group, "medflow-data-scientists", "unknown-to-medflow"]}
    params, cookie = sign_on(client)
    identity = client.complete(params, cookie, now_ms())
    assert identity.username == user and identity.subject.startswith(provider.issuer + "|")
    assert identity.groups == {group, "medflow-data-scientists", "unknown-to-medflow"}
    authenticator = Authenticator(client.config, auth_db[0])
    principal = authenticator.external_principal(identity.username, identity.groups, method="oidc",
                                                 subject=identity.subject, display_name=identity.display_name)
    assert principal.auth_method == "oidc" and principal.groups == {group}
    assert principal.roles == {"viewer", "data_scientist"} and principal.display_name == "Gregory House"
    session_cookie = authenticator.start_session(principal, "oidc", identity.groups)
    again, _ = authenticator.session_principal(session_cookie)
    assert again.username == user and again.groups == {group}
    # the same subject signs on again later, even after a rename at the provider
    provider.state.user = {**provider.state.user, "preferred_username": user + "-renamed"}
    params, cookie = sign_on(client)
    identity = client.complete(params, cookie, now_ms())
    assert authenticator.external_principal(identity.username, identity.groups, method="oidc",
                                            subject=identity.subject).username == user


def test_a_provider_name_cannot_take_over_a_local_account(provider, client, auth_db, auth):
    local = unique("root")
    auth.accounts.create_admin(local, PASSWORD, actor="t")
    provider.state.user = {"sub": unique("sub"), "preferred_username": local}
    params, cookie = sign_on(client)
    identity = client.complete(params, cookie, now_ms())
    with pytest.raises(MedflowError) as err:
        Authenticator(client.config, auth_db[0]).external_principal(identity.username, identity.groups,
                                                                    method="oidc", subject=identity.subject)
    assert err.value.code == "UNAUTHENTICATED" and "not linked" in err.value.message


@pytest.mark.parametrize("tamper", ["state", "nonce", "audience", "expired", "foreign_key", "replay", "late"])
def test_every_check_refuses_a_bad_sign_on(provider, client, tamper):
    provider.state.user = {"sub": "u-1", "preferred_username": "mallory"}
    if tamper == "nonce":
        provider.state.nonce_override = "not-the-nonce"
    if tamper == "audience":
        provider.state.audience = "another-client"
    if tamper == "expired":
        provider.state.lifetime = -3600
    if tamper == "foreign_key":
        provider.state.foreign_key = True
    params, cookie = sign_on(client)
    now = now_ms()
    if tamper == "state":
        params["state"] = "forged"
    if tamper == "late":
        now += 11 * 60_000
    if tamper == "replay":
        client.complete(dict(params), cookie, now)
    with pytest.raises(MedflowError) as err:
        client.complete(params, cookie, now)
    assert err.value.code == "UNAUTHENTICATED" and "Single sign-on failed" in err.value.message


def test_a_stolen_code_without_the_verifier_is_useless(provider, client):
    params, _ = sign_on(client)
    _, other_cookie = client.begin(now_ms())  # another browser's login state
    with pytest.raises(MedflowError):
        client.complete(params, other_cookie, now_ms())
