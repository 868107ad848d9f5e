"""What the permission table says a call must get, and how an answer is compared with it.

Expectations come from ACTIONS (medflow/auth/permissions.py) and ROUTE_ACTIONS
(medflow/auth/route_actions.py) alone:

    HIDDEN   the department is not the caller's: the answer must be indistinguishable from the
             answer to the same call on objects that exist nowhere (MISSING)
    DENIED   403 PERMISSION_DENIED: the caller's roles never allow the action, or its grants in
             the department do not give the permission the action needs
    ALLOWED  the call succeeds (the case's `ok` status)
"""
from __future__ import annotations

import re

from medflow.auth.permissions import ACTIONS, CAPABILITIES, GLOBAL, READ, REGISTERED_MODEL, WORKSPACE
from medflow.auth.route_actions import RouteRule
from tests.auth.role_matrix_world import Account, Dept

ALLOWED, DENIED, HIDDEN = "allowed", "denied", "hidden"
# Routes whose objects are named within a workspace (by name, or a search), chosen with the
# X-MLFLOW-WORKSPACE header (the 3.x client's MLFLOW_WORKSPACE); the others name objects by id and
# send no header (as a 2.x client).
HEADER_LOCATORS = ("workspace", "name", "experiment_name", "filter")


def per_department(rule: RouteRule, inner_action: str | None = None) -> bool:
    """Whether the answer depends on which department's objects the call names."""
    return rule.locator != "none" or inner_action is not None


def expected(account: Account, rule: RouteRule, target: Dept, inner_action: str | None = None) -> str:
    if per_department(rule, inner_action) and not account.sees(target.workspace):
        return HIDDEN
    for action in filter(None, (rule.action, inner_action)):
        spec = ACTIONS[action]
        if account.roles.isdisjoint(spec.roles):
            return DENIED
        if spec.resource in (GLOBAL, WORKSPACE) or "admin" in account.roles:
            continue
        if spec.permission == READ and "auditor" in account.roles:
            continue
        held = CAPABILITIES[account.membership]
        if spec.resource == REGISTERED_MODEL:  # the cases' models are the department's MODEL_NAME
            held = held | CAPABILITIES[account.model_grant]
        if spec.permission not in held:
            return DENIED
    return ALLOWED


_HEX_ID = re.compile(r"\b(?:m-)?[0-9a-f]{32}\b")
_UNIQUE_NAME = re.compile(r"\b[a-z0-9]+(?:-[a-z0-9]+)*-\d+-[0-9a-f]{4}\b")
_NUMBER = re.compile(r"\d+")


def masked(text: str, dept: Dept) -> str:
    """`text` with what differs between departments replaced: their names and ids, fresh objects' names."""
    text = _UNIQUE_NAME.sub("<name>", _HEX_ID.sub("<id>", text))
    for value, placeholder in sorted(dept.placeholders().items(), key=lambda kv: -len(kv[0])):
        text = text.replace(value, placeholder)
    return _NUMBER.sub("<n>", text)  # experiment ids, versions


def answer(response, dept: Dept) -> tuple:
    """What a caller learns from a response, with the department's ids masked."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    if isinstance(body, dict) and "error_code" in body:
        return response.status_code, body["error_code"], masked(str(body.get("message", "")), dept)
    return response.status_code, masked(repr(body), dept)


def check(outcome: str, response, ok: int, hidden_like=None, dept: Dept | None = None) -> str | None:
    """None when `response` is what `outcome` demands, else what is wrong."""
    status = response.status_code
    code = _error_code(response)
    if outcome == HIDDEN:
        seen = answer(response, dept)
        return None if seen == hidden_like else f"answers {seen}, a missing object gets {hidden_like}"
    if outcome == DENIED:
        return None if (status, code) == (403, "PERMISSION_DENIED") else f"expected 403 PERMISSION_DENIED, got " \
                                                                           f"{status} {response.text[:200]}"
    if status != ok or code == "PERMISSION_DENIED":
        return f"expected {ok}, got {status} {response.text[:200]}"
    return None


def _error_code(response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error_code") if isinstance(body, dict) else None
