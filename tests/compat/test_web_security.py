"""Attacks from research/mlflow-vulnerabilities.md that target the server as a whole.

AUTH-COVERAGE: every route MedFlow serves refuses an unauthenticated call (MLflow shipped
routes open because its auth was a deny-list). CSRF / CORS / XSS: a web page cannot make
the browser write to MedFlow, no origin is reflected, no header is echoed into a response.
LFI-EXP-ARTIFACT-LOCATION: an experiment cannot point its artifacts outside the root.
DOS-*: pathological bodies get a clear 4xx, never a 500.
"""
from __future__ import annotations

import re
import time

import pytest
import requests

from medflow.api.mlflow.routes import API_PREFIXES, MEDFLOW_ROUTES, ROUTES, TOP_LEVEL_ROUTES
from medflow.auth.middleware import PUBLIC_PATHS

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def anonymous():
    session = requests.Session()
    session.trust_env = False  # no netrc: no credentials at all
    return session


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def every_route():
    for endpoint in ROUTES:
        for prefix in API_PREFIXES:
            yield endpoint.method, prefix + _concrete(endpoint.path)
    for endpoint in MEDFLOW_ROUTES:
        yield endpoint.method, "/api" + _concrete(endpoint.path)
    for endpoint in TOP_LEVEL_ROUTES:
        yield endpoint.method, endpoint.path


def test_every_route_refuses_anonymous_calls(medflow_server, anonymous):
    open_routes = []
    for method, path in every_route():
        response = anonymous.request(method, medflow_server.url + path, json={}, timeout=30)
        if path in PUBLIC_PATHS:
            continue
        if response.status_code != 401 or response.json().get("error_code") != "UNAUTHENTICATED":
            open_routes.append(f"{method} {path} -> {response.status_code}")
    assert not open_routes, "routes answering without credentials:\n" + "\n".join(open_routes)
    assert anonymous.get(medflow_server.url + "/health", timeout=10).status_code == 200


def test_credentials_are_checked_before_the_request_is_parsed(medflow_server, anonymous):
    """A small body is read before its credentials are checked (in the endpoint's worker call), a
    large or chunked one is not: either way an anonymous or wrongly-credentialed call gets 401 with
    the Basic challenge, never a 400 that shows its body was looked at."""
    url = medflow_server.url + API + "/runs/log-metric"

    def chunked():
        yield b'{"run_id": '
        yield b"not json"

    bodies = {"small": b'{"run_id": not json', "large": b"{" + b" " * 200_000 + b"not json",
              "chunked": chunked}
    for label, body in bodies.items():
        for auth in (None, ("someone", "not the password")):
            response = anonymous.post(url, data=body() if callable(body) else body, auth=auth, timeout=30,
                                      headers={"Content-Type": "application/json"})
            assert response.status_code == 401, (label, auth, response.status_code, response.text[:200])
            assert response.json()["error_code"] == "UNAUTHENTICATED", label
            assert response.headers["WWW-Authenticate"].startswith("Basic"), label


def test_wrong_credentials_are_refused_and_audited(medflow_server, anonymous):
    since = int(time.time() * 1000)
    response = anonymous.post(medflow_server.url + API + "/experiments/search", json={},
                              auth=("someone", "not the password"), timeout=30)
    assert response.status_code == 401 and response.json()["error_code"] == "UNAUTHENTICATED"
    anonymous.get(medflow_server.url + API + "/experiments/get", params={"experiment_id": "0"}, timeout=30)
    deadline, events = time.monotonic() + 10, []
    while not events and time.monotonic() < deadline:
        time.sleep(0.2)
        events = requests.get(medflow_server.url + "/api/medflow/v1/audit/events", timeout=30,
                              params={"outcome": "denied", "since": since}).json()["events"]
    refused = {(e["action"], e["error_code"], e["auth_method"], e["details"].get("claimed_user")) for e in events}
    assert ("POST /api/2.0/mlflow/experiments/search", "UNAUTHENTICATED", "basic", "someone") in refused
    assert ("GET /api/2.0/mlflow/experiments/get", "UNAUTHENTICATED", "none", None) in refused
    assert all("not the password" not in str(e) for e in events)


def test_cross_site_form_post_is_refused(medflow_server):
    """A form on another site can send text/plain or form bodies with the browser's cookies/Basic
    credentials; MedFlow only accepts JSON bodies, which a cross-origin page cannot send without
    a CORS preflight that MedFlow never grants."""
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = requests.post(medflow_server.url + API + "/experiments/create",
                                 data='{"name": "csrf-attempt"}', timeout=30,
                                 headers={"Content-Type": content_type, "Origin": "https://evil.example"})
        assert response.status_code == 400, content_type
    found = requests.get(medflow_server.url + API + "/experiments/get-by-name",
                         params={"experiment_name": "csrf-attempt"}, timeout=30)
    assert found.status_code == 404


def test_no_cors_grant_and_no_reflected_headers(medflow_server):
    preflight = requests.options(medflow_server.url + API + "/experiments/create", timeout=30, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert "access-control-allow-origin" not in {k.lower() for k in preflight.headers}
    payload = "<script>alert(1)</script>"
    response = requests.post(medflow_server.url + API + "/experiments/create", data="{}", timeout=30,
                             headers={"Content-Type": payload, "Origin": "https://evil.example"})
    assert response.status_code == 400
    assert payload not in response.text and "access-control-allow-origin" not in {k.lower() for k in response.headers}
    assert response.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("location", [
    "file:///etc/", "/etc", "../../etc", "http:///#/../../../../etc/", "http://127.0.0.1:1/x",
    "s3://someone-elses-bucket/x", "mlflow-artifacts:/../../etc", "mlflow-artifacts:/1/../../etc",
    "mlflow-artifacts:/%2e%2e/etc", "mlflow-artifacts:/a#/../../etc", "mlflow-artifacts:/a?/../b",
    "dbfs:/", "file://./etc", "//proc/self/root/etc",
])
def test_experiment_artifact_location_cannot_leave_the_root(medflow_server, location):
    response = requests.post(medflow_server.url + API + "/experiments/create", timeout=30,
                             json={"name": f"lfi-{abs(hash(location))}", "artifact_location": location})
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "mlflow-artifacts:/" in response.json()["message"]


def test_an_allowed_custom_location_stays_inside_the_root(medflow_server):
    response = requests.post(medflow_server.url + API + "/experiments/create", timeout=30,
                             json={"name": "custom-location", "artifact_location": "mlflow-artifacts:/cardiology/icu"})
    assert response.status_code == 200
    experiment = requests.get(medflow_server.url + API + "/experiments/get", timeout=30,
                              params={"experiment_id": response.json()["experiment_id"]}).json()["experiment"]
    assert experiment["artifact_location"] == "mlflow-artifacts:/cardiology/icu"


@pytest.mark.parametrize("body, what", [
    (b"[" * 100_000 + b"]" * 100_000, "deeply nested JSON"),
    (b'{"name": "\xff\xfe"}', "invalid UTF-8"),
    (b'{"name": ', "truncated JSON"),
    (b'["not", "an", "object"]', "a JSON array"),
    (b'{"name": NaN}', "NaN where a string belongs"),
])
def test_pathological_bodies_get_a_clear_4xx(medflow_server, body, what):
    response = requests.post(medflow_server.url + API + "/experiments/create", data=body, timeout=60,
                             headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, what
    assert response.json()["message"] and "Traceback" not in response.text


def test_oversized_body_is_refused_without_reading_it_all(medflow_server):
    too_big = b'{"name": "' + b"x" * (33 * 1024 * 1024) + b'"}'
    response = requests.post(medflow_server.url + API + "/experiments/create", data=too_big, timeout=120,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "exceeds" in response.json()["message"]
