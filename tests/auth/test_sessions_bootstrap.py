"""Browser sessions with automatic logoff, and the first admin from a one-time bootstrap secret."""
from __future__ import annotations

import base64

import pytest

from medflow.auth.bootstrap import bootstrap_admin, redeem_bootstrap_secret
from medflow.auth.service import AuthServices
from medflow.auth.sessions import SessionCookies, Signer
from medflow.errors import MedflowError
from tests.auth.conftest import PASSWORD, fast_config, unique
from tests.conftest import BACKENDS, fresh_database

MINUTE = 60_000


def test_session_cookie_idle_timeout_age_limit_and_forgery():
    cookies = SessionCookies(Signer(b"k" * 32), idle_minutes=15, max_hours=12)
    t0 = 1_000_000_000_000
    cookie = cookies.issue(3, 7, method="oidc", now=t0, groups=["cardio"])
    session = cookies.read(cookie, t0 + 14 * MINUTE)
    assert (session.account_id, session.credential_version, session.groups) == (3, 7, ("cardio",))
    assert cookies.read(cookie, t0 + 16 * MINUTE) is None  # idle too long: logged off
    assert cookies.refreshed(session, t0 + 30_000) is None  # recent enough, no new cookie
    slid = cookies.refreshed(session, t0 + 14 * MINUTE)
    assert cookies.read(slid, t0 + 28 * MINUTE) is not None  # activity slides the idle clock
    late = t0 + 12 * 60 * MINUTE + 1
    assert cookies.read(cookies.issue(3, 7, method="oidc", now=late - MINUTE, started=t0), late) is None
    assert cookies.read(cookie[:-2] + "xx", t0) is None
    assert SessionCookies(Signer(b"other" * 8), idle_minutes=15, max_hours=12).read(cookie, t0) is None
    assert Signer(b"k" * 32).loads(Signer(b"k" * 32).dumps({"a": 1}, "oidc-login"), "session") is None
    assert "HttpOnly" in cookies.set_cookie_header(cookie) and "Secure" in cookies.set_cookie_header(cookie)


@pytest.fixture(params=BACKENDS)
def fresh_auth(request, tmp_path):
    with fresh_database(request.param, tmp_path) as (db, _):
        yield AuthServices(db, fast_config())


def test_bootstrap_secret_creates_exactly_one_admin(fresh_auth):
    auth = fresh_auth
    stale = bootstrap_admin(auth.db)
    secret = bootstrap_admin(auth.db)  # a restart before use voids the printed secret
    assert stale and secret and stale != secret
    with pytest.raises(MedflowError) as err:
        redeem_bootstrap_secret(auth.accounts, stale, "root", PASSWORD)
    assert err.value.code == "UNAUTHENTICATED"
    with pytest.raises(MedflowError):
        redeem_bootstrap_secret(auth.accounts, secret, "root", "short")  # policy first; secret stays valid
    user = redeem_bootstrap_secret(auth.accounts, secret, "root", PASSWORD, "Platform Admin")
    assert user["roles"] == ["admin"] and user["created_by"] == "bootstrap"
    with pytest.raises(MedflowError):
        redeem_bootstrap_secret(auth.accounts, secret, "root2", PASSWORD)
    assert bootstrap_admin(auth.db) is None  # an account exists: nothing is printed any more


def test_session_principal_ends_with_the_account_change(fresh_auth):
    auth = fresh_auth
    name = unique("nurse")
    auth.accounts.create_user(name, PASSWORD, actor="t", roles=["viewer"])
    principal = auth.authenticator.authenticate(
        {"authorization": "Basic " + base64.b64encode(f"{name}:{PASSWORD}".encode()).decode()}, "x")
    cookie = auth.authenticator.start_session(principal, "session")
    again, refreshed = auth.authenticator.session_principal(cookie)
    assert again.username == name and again.auth_method == "session" and refreshed is None
    principal = auth.authenticator.authenticate({"cookie": f"medflow_session={cookie}"}, "x")
    assert principal.username == name
    auth.accounts.lock(name)
    with pytest.raises(MedflowError) as err:
        auth.authenticator.session_principal(cookie)
    assert err.value.code == "UNAUTHENTICATED"
