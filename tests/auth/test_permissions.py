"""The decision function against its table: deny by default, roles as a ceiling, grants per resource.

Pure unit tests (no database): every (role, action) pair of ACTIONS is checked against the
rule the table states, so a new action or role cannot slip through unchecked.
"""
from __future__ import annotations

import pytest

from medflow.auth.permissions import (ACTIONS, EXPERIMENT, GLOBAL, READ, REGISTERED_MODEL, WORKSPACE, Grant,
                                      ResourceRef, authorize, can)
from medflow.auth.principal import ROLES, Principal
from medflow.errors import MedflowError

CARDIO, RADIO = "cardiology", "radiology"


def principal(*roles, workspaces=(CARDIO,), break_glass=False, account_id=7):
    return Principal(account_id=account_id, username="u", display_name="U", roles=frozenset(roles),
                     groups=frozenset(), workspaces=frozenset(workspaces), default_workspace=CARDIO,
                     auth_method="basic", break_glass=break_glass)


def resource_for(spec, workspace=CARDIO) -> ResourceRef | None:
    if spec.resource == GLOBAL:
        return None
    if spec.resource == WORKSPACE:
        return ResourceRef(WORKSPACE, workspace, workspace)
    return ResourceRef(spec.resource, "1", workspace)


MANAGE_ALL = [Grant("user", "MANAGE")]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_role_ceiling_in_own_workspace_with_full_grants(role, action):
    """With MANAGE on the resource, exactly the roles the table lists may act."""
    spec = ACTIONS[action]
    assert can(principal(role), action, resource_for(spec), MANAGE_ALL) == (role in spec.roles)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(a for a, s in ACTIONS.items() if s.resource in (EXPERIMENT, REGISTERED_MODEL)))
def test_other_workspace_does_not_exist_except_for_auditors_and_admins(role, action):
    spec = ACTIONS[action]
    ref = resource_for(spec, RADIO)
    allowed = can(principal(role), action, ref, MANAGE_ALL)
    if role == "admin":
        assert allowed == (role in spec.roles)
    elif role == "auditor":
        assert allowed == (spec.permission == READ and role in spec.roles)
    else:
        assert not allowed
        if role in spec.roles:
            with pytest.raises(MedflowError) as err:
                authorize(principal(role), action, ref, MANAGE_ALL, not_found_message="No Experiment")
            assert err.value.code == "RESOURCE_DOES_NOT_EXIST"


def test_unknown_actions_are_denied_to_everyone():
    for role in ROLES:
        assert not can(principal(role), "experiment-frobnicate", ResourceRef(EXPERIMENT, "1", CARDIO), MANAGE_ALL)
    with pytest.raises(MedflowError) as err:
        authorize(principal("admin"), "webhook-create")
    assert err.value.code == "PERMISSION_DENIED"


def test_auditor_reads_everything_and_changes_nothing():
    auditor = principal("auditor", workspaces=())
    for action, spec in ACTIONS.items():
        if spec.resource in (EXPERIMENT, REGISTERED_MODEL):
            assert can(auditor, action, resource_for(spec, RADIO)) == (spec.permission == READ), action


def test_reviewer_approves_but_does_not_train():
    reviewer = principal("reviewer")
    model = ResourceRef(REGISTERED_MODEL, "3", CARDIO)
    assert can(reviewer, "model-version-approve", model, [Grant("group", "APPROVE")])
    assert can(reviewer, "model-version-read", model, [Grant("group", "APPROVE")])
    for action in ("model-version-update", "model-version-transition", "run-create", "experiment-create"):
        assert not can(reviewer, action, resource_for(ACTIONS[action]), MANAGE_ALL), action
    assert not can(principal("data_scientist"), "model-version-approve", model, MANAGE_ALL)
    assert not can(principal("admin"), "model-version-approve", model, MANAGE_ALL)


def test_permission_levels_on_an_experiment():
    ds = principal("data_scientist")
    exp = ResourceRef(EXPERIMENT, "5", CARDIO)
    assert not can(ds, "experiment-read", exp, [])
    assert can(ds, "run-read", exp, [Grant("user", "READ", "workspace")])
    assert not can(ds, "run-update", exp, [Grant("user", "READ")])
    assert can(ds, "run-update", exp, [Grant("group", "EDIT")])
    assert not can(ds, "run-delete", exp, [Grant("group", "EDIT")])  # CVE-2024-4263: EDIT never deletes
    assert not can(ds, "artifact-delete", exp, [Grant("group", "EDIT")])
    assert can(ds, "artifact-delete", exp, [Grant("user", "READ"), Grant("user", "MANAGE")])
    with pytest.raises(MedflowError) as err:
        authorize(ds, "run-delete", exp, [Grant("group", "EDIT")])
    assert err.value.code == "PERMISSION_DENIED" and "MANAGE" in err.value.message


def test_viewer_reads_granted_resources_only():
    viewer = principal("viewer")
    exp = ResourceRef(EXPERIMENT, "5", CARDIO)
    assert can(viewer, "run-read", exp, [Grant("user", "READ")])
    assert not can(viewer, "run-read", exp, [Grant("user", "NONE", "workspace")])
    assert not can(viewer, "run-update", exp, MANAGE_ALL)
    assert can(viewer, "experiment-search", ResourceRef(WORKSPACE, CARDIO, CARDIO))
    assert not can(viewer, "experiment-create", ResourceRef(WORKSPACE, CARDIO, CARDIO))


def test_break_glass_reads_everywhere_but_writes_only_what_grants_allow():
    elevated = principal("data_scientist", break_glass=True)
    other = ResourceRef(EXPERIMENT, "9", RADIO)
    assert can(elevated, "run-read", other, [])
    assert can(elevated, "artifact-read", other, [])
    assert not can(elevated, "run-update", other, [])
    assert not can(principal("data_scientist"), "run-read", other, [])


def test_global_actions_follow_roles_only():
    assert can(principal("viewer"), "server-info")
    assert can(principal("viewer"), "own-account")
    assert not can(principal("viewer"), "account-admin")
    assert not can(principal("auditor"), "account-admin")
    assert can(principal("auditor"), "audit-read")
    assert can(principal("admin"), "account-admin")
    assert not can(principal(), "server-info")  # no role at all: nothing
