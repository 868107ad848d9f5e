"""Browser sign-on against a real `medflow server` (SQLite and PostgreSQL): the password form,
OIDC through the test provider of tests/auth/oidc_provider.py (no external identity provider
can run here, so that small real provider stands in for one), CSRF on cookie-authenticated
writes, open-redirect refusal, idle logoff and logout.

The "browser" is a `requests.Session` with trust_env=False (no netrc credentials): it keeps
cookies and sends nothing else. Setup and read-back use the official mlflow client or the
admin's Basic credentials. One server per backend, with OIDC configured; the password form is
reached with `?local=1`, which shows the very form a server without OIDC shows at /auth/login.
"""
from __future__ import annotations

import re
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlparse

import mlflow
import pytest
import requests

from medflow.api.browser_auth import BROWSER_AUTH_ROUTES
from medflow.auth.middleware import BROWSER_SIGN_ON_PATHS, PUBLIC_PATHS
from medflow.auth.route_actions import rule_for
from medflow.auth.sessions import SessionCookies, Signer
from medflow.services.clock import now_ms
from medflow.store import accounts as account_store
from medflow.store.engine import Database
from tests.auth.oidc_provider import OidcProvider
from tests.servers import ADMIN_PASSWORD, ADMIN_USER

REDIRECT_URI = "https://medflow.example/auth/callback"  # registered at the provider; the test follows it
LANDING = "/api/medflow/v1/users/whoami"
V1 = "/api/medflow/v1"
PASSWORD = "Correct-Horse-Battery-Staple-0002"
LOCKOUT_THRESHOLD = 3
IDLE_MINUTES = 15


@pytest.fixture(scope="module")
def provider():
    p = OidcProvider().start()
    p.state.redirect_uri = REDIRECT_URI
    yield p
    p.stop()


@pytest.fixture(scope="module")
def server(backend, server_factory, provider):
    env = {"MEDFLOW_OIDC_ISSUER": provider.issuer, "MEDFLOW_OIDC_CLIENT_ID": "medflow",
           "MEDFLOW_OIDC_REDIRECT_URI": REDIRECT_URI,
           "MEDFLOW_AUTH_EXTERNAL_ROLE_GROUPS": "medflow-data-scientists=data_scientist",
           "MEDFLOW_AUTH_LOCKOUT_THRESHOLD": str(LOCKOUT_THRESHOLD),
           "MEDFLOW_AUTH_SESSION_IDLE_MINUTES": str(IDLE_MINUTES)}
    with server_factory(backend, "browser-sign-on", env=env) as s:
        yield s


@pytest.fixture(scope="module")
def admin(server):
    session = requests.Session()
    session.trust_env = False
    session.auth = (ADMIN_USER, ADMIN_PASSWORD)
    return session


def browser() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no netrc: only what the server's cookies give it
    return session


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def create_user(server, admin, roles=("data_scientist",)) -> str:
    username = unique("nurse")
    response = admin.post(server.url + V1 + "/users/create", timeout=30,
                          json={"username": username, "password": PASSWORD, "roles": list(roles)})
    assert response.status_code == 200, response.text
    return username


def form_token(page: requests.Response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(server, session, username, password=PASSWORD, next_path=None) -> requests.Response:
    """What a person does: open the sign-in page, fill in the form, submit it."""
    query = {"local": "1", **({"next": next_path} if next_path is not None else {})}
    page = session.get(server.url + "/auth/login", params=query, timeout=30)
    assert page.status_code == 200, page.text
    return session.post(server.url + "/auth/login", allow_redirects=False, timeout=30, data={
        "username": username, "password": password, "csrf_token": form_token(page),
        "next": re.search(r'name="next" value="([^"]*)"', page.text).group(1)})


def csrf_header(session) -> dict[str, str]:
    return {"X-CSRF-Token": session.cookies.get("medflow_csrf")}


def test_the_sign_on_routes_are_public_and_outside_the_action_table():
    """Plain Starlette routes (not Endpoints): nothing can be authorized before sign-on, so they are
    public, and each checks its own input (form token, OIDC state, the session's CSRF token)."""
    assert {path for _, path in BROWSER_AUTH_ROUTES} == BROWSER_SIGN_ON_PATHS
    assert BROWSER_SIGN_ON_PATHS <= PUBLIC_PATHS
    assert not any(rule_for(method, path) for method, path in BROWSER_AUTH_ROUTES)


def test_the_sign_in_page_is_a_plain_escaped_form(server):
    page = browser().get(server.url + "/auth/login", timeout=30,
                         params={"local": "1", "next": '/x"><script>alert(1)</script>'})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<script" not in page.text and "&lt;script&gt;" in page.text  # autoescaped, no script of its own
    assert "MedFlow account" in page.text and 'name="password" type="password"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    login_cookie = page.headers["set-cookie"]
    assert "medflow_login_csrf=" in login_cookie and "HttpOnly" in login_cookie
    assert "Secure" not in login_cookie  # plain HTTP to a loopback address (a laptop, this test)
    for headers in ({"X-Forwarded-Proto": "https"}, {"Host": "medflow.hospital.org"}):  # TLS proxy, real name
        behind_proxy = browser().get(server.url + "/auth/login", params={"local": "1"}, headers=headers, timeout=30)
        assert "; Secure" in behind_proxy.headers["set-cookie"], headers


def test_password_sign_on_opens_a_session_that_the_api_accepts(server, admin):
    username = create_user(server, admin)
    session = browser()
    response = sign_in(server, session, username)
    assert response.status_code == 303 and response.headers["location"] == LANDING
    set_cookie = response.headers["set-cookie"]
    assert "medflow_session=" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert session.cookies.get("medflow_csrf")
    me = session.get(server.url + LANDING, timeout=30)
    assert me.status_code == 200 and me.json()["username"] == username and me.json()["auth_method"] == "session"
    assert "data_scientist" in me.json()["roles"]
    found = session.get(server.url + "/api/2.0/mlflow/experiments/search", params={"max_results": 5}, timeout=30)
    assert found.status_code == 200
    page = session.get(server.url + "/auth/login", params={"local": "1"}, timeout=30)
    assert f"signed in as {username} ({username})" in page.text
    events = wait_for_audit(admin, server, action="POST auth/login", actor=username)
    assert events[0]["outcome"] == "success" and events[0]["auth_method"] == "session"


def wait_for_audit(admin, server, **filters) -> list[dict]:
    """Sign-on events are queued and appended within the audit flush interval."""
    deadline = time.monotonic() + 10
    while True:
        events = admin.get(server.url + V1 + "/audit/events", params=filters, timeout=30).json().get("events", [])
        if events or time.monotonic() > deadline:
            return events
        time.sleep(0.2)


def test_cookie_writes_need_the_session_csrf_token(server, admin):
    username = create_user(server, admin)
    session, other = browser(), browser()
    assert sign_in(server, session, username).status_code == 303
    assert sign_in(server, other, username).status_code == 303
    create = server.url + "/api/2.0/mlflow/experiments/create"
    name = unique("csrf-sepsis")
    refused = session.post(create, json={"name": name}, timeout=30)
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    assert "X-CSRF-Token" in refused.json()["message"]
    another_sessions_token = session.post(create, json={"name": name}, headers=csrf_header(other), timeout=30)
    assert another_sessions_token.status_code == 403
    for bad_token in ("x.y", "caf\u00e9.x", ""):
        forged = session.post(create, json={"name": name}, headers={"X-CSRF-Token": bad_token}, timeout=30)
        assert forged.status_code == 403, bad_token
    # an HTML form may carry the token as a field: the middleware accepts it (the JSON API then
    # refuses the form body with 400), and refuses the same form without it
    form = {"name": name, "csrf_token": session.cookies.get("medflow_csrf")}
    assert session.post(create, data=form, timeout=30).status_code == 400
    assert session.post(create, data={"name": name}, timeout=30).status_code == 403
    client = mlflow.MlflowClient(tracking_uri=server.url)  # the admin, by Basic from the environment
    assert client.get_experiment_by_name(name) is None  # nothing was written
    accepted = session.post(create, json={"name": name}, headers=csrf_header(session), timeout=30)
    assert accepted.status_code == 200, accepted.text
    assert client.get_experiment_by_name(name).experiment_id == accepted.json()["experiment_id"]
    # Basic (what the mlflow client sends) needs no CSRF token, with or without a stray cookie
    basic = requests.Session()
    basic.trust_env = False
    basic.cookies.update(session.cookies)
    stray = basic.post(create, json={"name": unique("basic")}, auth=(username, PASSWORD), timeout=30)
    assert stray.status_code == 200, stray.text
    assert client.create_experiment(unique("client")).isdigit()


def test_wrong_passwords_count_toward_lockout(server, admin):
    username = create_user(server, admin)
    for _ in range(LOCKOUT_THRESHOLD):
        failed = sign_in(server, browser(), username, password="not-the-password-at-all")
        assert failed.status_code == 401 and "Invalid user name or password" in failed.text
        assert "medflow_session" not in failed.headers.get("set-cookie", "")
    locked = sign_in(server, browser(), username)
    assert locked.status_code == 401 and "locked" in locked.text
    assert requests.get(server.url + LANDING, auth=(username, PASSWORD), timeout=30).status_code == 401
    failures = admin.get(server.url + V1 + "/users/login-failures", params={"username": username},
                         timeout=30).json()["failures"]
    assert len(failures) >= LOCKOUT_THRESHOLD


def test_the_form_must_come_from_medflows_own_page(server, admin):
    username = create_user(server, admin)
    session = browser()
    forged = session.post(server.url + "/auth/login", allow_redirects=False, timeout=30,
                          data={"username": username, "password": PASSWORD, "csrf_token": "forged.token"})
    assert forged.status_code == 403 and "medflow_session" not in forged.headers.get("set-cookie", "")
    page = browser().get(server.url + "/auth/login", params={"local": "1"}, timeout=30)  # another browser's page
    replayed = session.post(server.url + "/auth/login", allow_redirects=False, timeout=30,
                            data={"username": username, "password": PASSWORD, "csrf_token": form_token(page)})
    assert replayed.status_code == 403
    assert admin.get(server.url + V1 + "/users/login-failures", params={"username": username},
                     timeout=30).json() == {}  # refused before the password was looked at
    assert sign_in(server, session, username).status_code == 303


@pytest.mark.parametrize("next_path", [
    "https://evil.example/", "//evil.example/x", "/\\evil.example", "/\t/evil.example", "\\\\evil.example",
    "javascript:alert(1)", "http:/evil.example", "evil.example", "/auth/logout",
])
def test_open_redirects_are_refused(server, admin, next_path):
    response = sign_in(server, browser(), create_user(server, admin), next_path=next_path)
    assert response.status_code == 303 and response.headers["location"] == LANDING


def test_sign_on_returns_to_the_page_it_came_from(server, admin):
    target = "/api/2.0/mlflow/experiments/search?max_results=3"
    response = sign_in(server, browser(), create_user(server, admin), next_path=target)
    assert response.status_code == 303 and response.headers["location"] == target


def oidc_sign_on(server, session, next_path=None) -> requests.Response:
    """What the browser does: MedFlow -> provider -> back to MedFlow's callback."""
    params = {"next": next_path} if next_path else {}
    to_provider = session.get(server.url + "/auth/login", params=params, allow_redirects=False, timeout=30)
    assert to_provider.status_code == 302, to_provider.text
    query = parse_qs(urlparse(to_provider.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"] and query["nonce"]
    assert "medflow_oidc=" in to_provider.headers["set-cookie"]
    back = session.get(to_provider.headers["location"], allow_redirects=False, timeout=30)
    assert back.status_code == 302 and back.headers["location"].startswith(REDIRECT_URI + "?")
    callback = server.url + "/auth/callback?" + urlparse(back.headers["location"]).query
    return session.get(callback, allow_redirects=False, timeout=30)


def test_oidc_sign_on_end_to_end_maps_groups_and_roles(server, admin, provider):
    group = unique("cardio-ds")
    assert admin.post(server.url + V1 + "/groups/create", json={"name": group}, timeout=30).status_code == 200
    member = {"workspace": "default", "kind": "group", "member": group, "permission": "EDIT"}
    assert admin.post(server.url + V1 + "/workspaces/set-member", json=member, timeout=30).status_code == 200
    user = unique("dr.house")
    provider.state.user = {"sub": unique("sub"), "preferred_username": user, "name": "Gregory House",
                           "groups": [group, "medflow-data-scientists", "unknown-to-medflow"]}
    session = browser()
    target = "/api/2.0/mlflow/experiments/search?max_results=2"
    response = oidc_sign_on(server, session, next_path=target)
    assert response.status_code == 303 and response.headers["location"] == target
    assert "medflow_oidc=; " in response.headers["set-cookie"]  # the login state is single use
    for _ in range(2):  # the mapped role survives past the first request of the session
        me = session.get(server.url + LANDING, timeout=30).json()
        assert me["username"] == user and me["auth_method"] == "oidc" and me["display_name"] == "Gregory House"
        assert me["groups"] == [group] and set(me["roles"]) == {"viewer", "data_scientist"}
        assert me["workspaces"] == ["default"]  # through the provider's group
    created = session.post(server.url + "/api/2.0/mlflow/experiments/create", json={"name": unique("sso")},
                           headers=csrf_header(session), timeout=30)
    assert created.status_code == 200, created.text
    assert wait_for_audit(admin, server, action="GET auth/callback", actor=user)[0]["outcome"] == "success"


def test_a_bad_oidc_callback_opens_no_session(server, provider):
    provider.state.user = {"sub": unique("sub"), "preferred_username": unique("mallory")}
    session = browser()
    to_provider = session.get(server.url + "/auth/login", allow_redirects=False, timeout=30)
    back = session.get(to_provider.headers["location"], allow_redirects=False, timeout=30)
    params = {k: v[0] for k, v in parse_qs(urlparse(back.headers["location"]).query).items()}
    forged = session.get(server.url + "/auth/callback?" + urlencode({**params, "state": "forged"}),
                         allow_redirects=False, timeout=30)
    assert forged.status_code == 401 and "Single sign-on failed" in forged.text
    assert "medflow_session" not in session.cookies
    no_state = browser().get(server.url + "/auth/callback?" + urlencode(params), allow_redirects=False, timeout=30)
    assert no_state.status_code == 401 and "medflow_session" not in no_state.headers.get("set-cookie", "")


def crafted_session_cookie(server, username: str, last_seen: int) -> str:
    """A session cookie signed with the server's own session key (read from its database), as the
    server would have issued it at `last_seen`: the way to test a 15-minute idle logoff quickly."""
    db = Database(server.db_url)
    try:
        with db.read() as conn:
            key = account_store.session_key(conn)
            row = account_store.get_row_by_username(conn, username)
    finally:
        db.dispose()
    cookies = SessionCookies(Signer(bytes.fromhex(key)), idle_minutes=IDLE_MINUTES, max_hours=12)
    return cookies.issue(row.account_id, row.credential_version, method="session", now=last_seen)


def test_an_idle_session_is_logged_off(server, admin):
    username = create_user(server, admin)
    idle = crafted_session_cookie(server, username, now_ms() - (IDLE_MINUTES + 1) * 60_000)
    refused = browser().get(server.url + LANDING, headers={"Cookie": f"medflow_session={idle}"}, timeout=30)
    assert refused.status_code == 401 and refused.json()["error_code"] == "UNAUTHENTICATED"
    assert "session has ended" in refused.json()["message"]
    active = crafted_session_cookie(server, username, now_ms() - (IDLE_MINUTES - 1) * 60_000)
    kept = browser().get(server.url + LANDING, headers={"Cookie": f"medflow_session={active}"}, timeout=30)
    assert kept.status_code == 200 and kept.json()["username"] == username
    refreshed = kept.headers["set-cookie"]  # the idle clock slides: a fresh cookie comes back
    assert refreshed.startswith("medflow_session=") and active not in refreshed


def test_logout_clears_the_cookie(server, admin):
    username = create_user(server, admin)
    session = browser()
    assert sign_in(server, session, username).status_code == 303
    stolen = session.cookies.get("medflow_session")
    cross_site = session.post(server.url + "/auth/logout", timeout=30)
    assert cross_site.status_code == 403
    assert session.get(server.url + LANDING, timeout=30).status_code == 200  # still signed in
    out = session.post(server.url + "/auth/logout", data={"csrf_token": session.cookies.get("medflow_csrf")},
                       timeout=30)
    assert out.status_code == 200 and "signed out" in out.text
    assert "medflow_session=; " in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    assert "medflow_session" not in session.cookies and "medflow_csrf" not in session.cookies
    assert session.get(server.url + LANDING, timeout=30).status_code == 401
    # Sessions are stateless (documented): a copy of the cookie taken before logout lives until
    # its idle timeout or an account change. Logout ends the browser's session, not copies.
    copy = browser().get(server.url + LANDING, headers={"Cookie": f"medflow_session={stolen}"}, timeout=30)
    assert copy.status_code == 200
    again = browser().post(server.url + "/auth/logout", timeout=30)  # no session: nothing to protect
    assert again.status_code == 200
