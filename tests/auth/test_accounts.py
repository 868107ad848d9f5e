"""Accounts, passwords, lockout, tokens and the Authenticator, on a real database (SQLite and PostgreSQL).

Two Authenticator objects on one database stand for two server processes: what one process
caches must not outlive a change made through the other.
"""
from __future__ import annotations

import base64
import hashlib

import pytest
from sqlalchemy import select, update

from medflow.auth.authenticate import Authenticator, request_workspace
from medflow.errors import MedflowError
from medflow.services.clock import now_ms
from medflow.store.schema_accounts import accounts, api_tokens, login_failures
from tests.auth.conftest import PASSWORD, fast_config, unique


def basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def refused(authenticator, headers, addr="127.0.0.1") -> str:
    with pytest.raises(MedflowError) as err:
        authenticator.authenticate(headers, addr)
    assert err.value.code == "UNAUTHENTICATED" and err.value.http_status == 401
    return err.value.message


def test_user_names_and_ids_are_never_reused(auth):
    name = unique("ana")
    first = auth.accounts.create_user(name, PASSWORD, actor="t", roles=["data_scientist"])
    auth.accounts.deactivate(name)
    with pytest.raises(MedflowError) as err:
        auth.accounts.create_user(name, PASSWORD, actor="t")
    assert err.value.code == "RESOURCE_ALREADY_EXISTS" and "never reused" in err.value.message
    second = auth.accounts.create_user(unique("ana"), PASSWORD, actor="t")
    assert int(second["id"]) > int(first["id"])
    listed = {u["username"]: u for u in auth.accounts.list_users()}
    assert listed[name]["status"] == "deactivated"


def test_password_policy_and_history(auth):
    name = unique("ben")
    for bad, why in (("short pw 1", "too short"), (f"my {name} is great!", "user name"), ("a" * 20, "different")):
        with pytest.raises(MedflowError) as err:
            auth.accounts.create_user(name, bad, actor="t")
        assert why in err.value.message and bad not in err.value.message
    auth.accounts.create_user(name, PASSWORD, actor="t")
    auth.accounts.reset_password(name, "second long password 2")
    with pytest.raises(MedflowError) as err:
        auth.accounts.reset_password(name, PASSWORD)
    assert "used recently" in err.value.message
    with pytest.raises(MedflowError):
        auth.accounts.create_user(unique("x"), "x" * 1025, actor="t")


def test_wrong_passwords_lock_the_account_and_every_failure_is_recorded(auth, auth_db):
    name = unique("cy")
    auth.accounts.create_user(name, PASSWORD, actor="t", roles=["viewer"])
    authenticator = Authenticator(fast_config(auth_lockout_threshold=3), auth_db[0])
    assert authenticator.authenticate(basic(name, PASSWORD), "10.0.0.1").username == name
    for _ in range(3):
        message = refused(authenticator, basic(name, "wrong password here"), "10.9.9.9")
        assert "MLFLOW_TRACKING_USERNAME" in message
    message = refused(authenticator, basic(name, PASSWORD))  # the right password no longer helps
    assert "locked" in message and "medflow users unlock" in message
    refused(authenticator, basic(name, PASSWORD))
    failures = auth.accounts.login_failures(username=name)
    assert [f["reason"] for f in failures] == ["locked", "locked", "bad password", "bad password", "bad password"]
    assert failures[-1]["client_addr"] == "10.9.9.9"
    assert auth.accounts.get_user(name)["locked"]
    auth.accounts.unlock(name)
    assert authenticator.authenticate(basic(name, PASSWORD), "x").username == name
    refused(authenticator, basic(unique("nobody"), PASSWORD))
    with auth_db[0].read() as conn:
        assert conn.execute(select(login_failures.c.reason).where(login_failures.c.account_id.is_(None),
                                                                  login_failures.c.reason == "unknown user")).first()


def test_timed_lockout_ends_by_itself(auth, auth_db):
    name = unique("dee")
    auth.accounts.create_user(name, PASSWORD, actor="t", roles=["viewer"])
    authenticator = Authenticator(fast_config(auth_lockout_threshold=1, auth_lockout_minutes=1), auth_db[0])
    refused(authenticator, basic(name, "wrong password here"))
    refused(authenticator, basic(name, PASSWORD))
    with auth_db[0].write() as conn:
        conn.execute(update(accounts).where(accounts.c.username == name).values(locked_time=now_ms() - 61_000))
    assert authenticator.authenticate(basic(name, PASSWORD), "x").username == name


def test_cached_logins_end_at_once_in_every_process(auth, auth_db):
    name = unique("eve")
    auth.accounts.create_user(name, PASSWORD, actor="t", roles=["viewer"])
    process_a, process_b = (Authenticator(fast_config(), auth_db[0]) for _ in range(2))
    for process in (process_a, process_b):
        process.authenticate(basic(name, PASSWORD), "x")
        process.authenticate(basic(name, PASSWORD), "x")  # now served from the cache
    auth.accounts.reset_password(name, "brand new long password")
    refused(process_a, basic(name, PASSWORD))
    refused(process_b, basic(name, PASSWORD))
    process_a.authenticate(basic(name, "brand new long password"), "x")
    auth.accounts.lock(name)
    refused(process_a, basic(name, "brand new long password"))
    auth.accounts.unlock(name)
    auth.accounts.set_roles(name, ["data_scientist"])
    assert process_b.authenticate(basic(name, "brand new long password"), "x").roles == {"data_scientist"}
    auth.accounts.deactivate(name)
    assert "deactivated" in refused(process_a, basic(name, "brand new long password"))


def test_expired_password_is_refused_with_directions(auth, auth_db):
    name = unique("fay")
    auth.accounts.create_user(name, PASSWORD, actor="t", roles=["viewer"])
    with auth_db[0].write() as conn:
        conn.execute(update(accounts).where(accounts.c.username == name)
                     .values(password_changed_time=now_ms() - 91 * 86_400_000))
    authenticator = Authenticator(fast_config(auth_password_expiry_days=90), auth_db[0])
    assert "expired" in refused(authenticator, basic(name, PASSWORD))
    auth.accounts.change_own_password(name, PASSWORD, "a fresh long password")
    assert authenticator.authenticate(basic(name, "a fresh long password"), "x").username == name


def test_tokens_are_shown_once_stored_hashed_and_stop_on_the_next_request(auth, auth_db):
    name = unique("gus")
    auth.accounts.create_user(name, None, actor="t", roles=["data_scientist"], kind="service")
    secret, token = auth.accounts.create_token(name, "ci", days=30)
    assert secret.startswith("mfp_") and "token" not in token and secret not in str(auth.accounts.list_tokens(name))
    with auth_db[0].read() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.token_id == int(token["id"]))).first()
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in " ".join(str(v) for v in row)
    authenticator = auth.authenticator
    principal = authenticator.authenticate(bearer(secret), "x")
    assert (principal.username, principal.auth_method, principal.token_id) == (name, "bearer", int(token["id"]))
    assert authenticator.authenticate(basic(name, secret), "x").token_id == int(token["id"])
    refused(authenticator, basic(unique("other"), secret))
    auth.accounts.revoke_token(int(token["id"]))
    assert "revoked" in refused(authenticator, bearer(secret))
    assert auth.accounts.list_tokens(name) == []
    assert auth.accounts.list_tokens(name, include_inactive=True)[0]["revoked_time"] > 0

    secret2, token2 = auth.accounts.create_token(name, "short-lived", days=1)
    authenticator.authenticate(bearer(secret2), "x")
    with auth_db[0].write() as conn:
        conn.execute(update(api_tokens).where(api_tokens.c.token_id == int(token2["id"])).values(expiry_time=now_ms() - 1))
    refused(authenticator, bearer(secret2))
    with pytest.raises(MedflowError):
        auth.accounts.create_token(name, "too long", days=10_000)


def test_missing_and_malformed_credentials_say_what_the_client_needs(auth):
    message = refused(auth.authenticator, {})
    assert "MLFLOW_TRACKING_USERNAME" in message and "MLFLOW_TRACKING_TOKEN" in message
    refused(auth.authenticator, {"Authorization": "Basic !!!"})
    refused(auth.authenticator, {"Authorization": "Digest abc"})
    refused(auth.authenticator, bearer("mfp_" + "x" * 43))


def test_proxy_headers_count_only_from_trusted_proxies(auth, auth_db):
    auth.directory.create_group(unique("unused"))
    group = unique("cardio-ds")
    auth.directory.create_group(group)
    workspace = unique("ws")
    auth.directory.create_workspace(workspace)
    auth.directory.set_workspace_member(workspace, "group", group, "EDIT")
    config = fast_config(auth_trusted_proxies="10.0.0.0/8, 192.168.1.5",
                         auth_external_role_groups=f"{group}=data_scientist")
    authenticator = Authenticator(config, auth_db[0])
    user = unique("proxied")
    headers = {"X-Forwarded-User": user, "X-Forwarded-Groups": f"{group},not-in-medflow"}
    principal = authenticator.authenticate(headers, "10.1.2.3")
    assert principal.auth_method == "proxy" and principal.username == user
    assert principal.groups == {group} and workspace in principal.workspaces
    assert principal.roles == {"viewer", "data_scientist"}
    assert auth.accounts.get_user(user)["created_by"] == "proxy"
    # From anyone else the headers are ignored: no credentials, or the credentials sent prevail.
    refused(authenticator, headers, "127.0.0.1")
    refused(authenticator, headers, "192.168.1.6")
    other = unique("honest")
    auth.accounts.create_user(other, PASSWORD, actor="t", roles=["viewer"])
    spoof = {**basic(other, PASSWORD), "X-Forwarded-User": "admin-wannabe"}
    assert authenticator.authenticate(spoof, "127.0.0.1").username == other
    auth.accounts.lock(user)
    refused(authenticator, headers, "10.1.2.3")


def test_request_workspace_header_or_default(auth):
    name, workspace = unique("hal"), unique("ws")
    auth.directory.create_workspace(workspace)
    auth.accounts.create_user(name, PASSWORD, actor="t", roles=["viewer"], default_workspace=workspace)
    principal = auth.authenticator.authenticate(basic(name, PASSWORD), "x")
    assert request_workspace(principal, None) == workspace
    assert request_workspace(principal, "") == workspace
    with pytest.raises(MedflowError) as err:
        request_workspace(principal, "default")
    assert err.value.code == "RESOURCE_DOES_NOT_EXIST"


def test_the_last_admin_cannot_be_removed(auth):
    assert not [u for u in auth.accounts.list_users() if "admin" in u.get("roles", [])]  # none made above
    first, second = unique("root"), unique("root")
    auth.accounts.create_admin(first, PASSWORD, actor="t")
    for change in (lambda: auth.accounts.set_roles(first, ["viewer"]), lambda: auth.accounts.lock(first),
                   lambda: auth.accounts.deactivate(first)):
        with pytest.raises(MedflowError) as err:
            change()
        assert "last active admin" in err.value.message
    auth.accounts.create_admin(second, PASSWORD, actor="t")
    auth.accounts.set_roles(first, ["auditor"])
    with pytest.raises(MedflowError):
        auth.accounts.create_admin(unique("root"), None, actor="t")  # never without a password
