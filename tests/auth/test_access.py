"""Workspaces, groups, grants and break-glass against real experiments, on SQLite and PostgreSQL.

The same rule is checked twice: `grants_for` + `can` for one resource, and `readable_clause`
for a search over many, which must agree.
"""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import select, update

from medflow.auth.grants import grant_creator, readable_clause
from medflow.auth.permissions import ResourceRef, authorize, can
from medflow.errors import MedflowError
from medflow.services.clock import now_ms
from medflow.store import experiments as experiment_store
from medflow.store.schema import experiments
from medflow.store.schema_accounts import break_glass
from medflow.auth.authenticate import Authenticator
from tests.auth.conftest import PASSWORD, fast_config, unique


def login(auth, username):
    header = base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()
    return auth.authenticator.authenticate({"authorization": f"Basic {header}"}, "127.0.0.1")


@pytest.fixture(scope="module")
def hospital(auth):
    """Two departments, each with a data scientist (via a group), a viewer and a reviewer; an auditor."""
    names = {"cardio": unique("cardiology"), "radio": unique("radiology")}
    people = {}
    for dept, workspace in names.items():
        auth.directory.create_workspace(workspace, f"{dept} department")
        group = unique(f"{dept}-ds")
        auth.directory.create_group(group)
        auth.directory.set_workspace_member(workspace, "group", group, "READ")
        for role in ("data_scientist", "viewer", "reviewer"):
            user = unique(f"{dept}-{role}")
            auth.accounts.create_user(user, PASSWORD, actor="t", roles=[role], default_workspace=workspace)
            people[(dept, role)] = user
        auth.directory.add_group_member(group, people[(dept, "data_scientist")])
        # the viewer's own membership confers nothing: it reads what is granted to it
        auth.directory.set_workspace_member(workspace, "user", people[(dept, "viewer")], "NONE")
    people["auditor"] = unique("auditor")
    auth.accounts.create_user(people["auditor"], PASSWORD, actor="t", roles=["auditor"])
    return names, people


def create_experiment(auth, principal, workspace):
    with auth.db.write() as conn:
        experiment_id = experiment_store.create(conn, name=unique("exp"), artifact_location=None, tags=[],
                                                now=now_ms(), workspace=workspace)
        grant_creator(conn, "experiment", experiment_id, principal)
    return ResourceRef("experiment", str(experiment_id), workspace)


def visible_ids(auth, principal):
    with auth.db.read() as conn:
        clause = readable_clause(principal, "experiment", experiments.c.experiment_id, experiments.c.workspace)
        return {str(r.experiment_id) for r in conn.execute(select(experiments.c.experiment_id).where(clause))}


def test_departments_see_only_their_own(auth, hospital):
    names, people = hospital
    ds = {d: login(auth, people[(d, "data_scientist")]) for d in ("cardio", "radio")}
    cardio_exp = create_experiment(auth, ds["cardio"], names["cardio"])
    radio_exp = create_experiment(auth, ds["radio"], names["radio"])
    grants = auth.grants.grants_for(ds["cardio"], [cardio_exp, radio_exp])
    assert can(ds["cardio"], "experiment-delete", cardio_exp, grants[cardio_exp])  # creator: MANAGE
    with pytest.raises(MedflowError) as err:
        authorize(ds["cardio"], "run-read", radio_exp, grants[radio_exp], not_found_message="No Experiment")
    assert err.value.code == "RESOURCE_DOES_NOT_EXIST"
    assert cardio_exp.id in visible_ids(auth, ds["cardio"]) and radio_exp.id not in visible_ids(auth, ds["cardio"])
    auditor = login(auth, people["auditor"])
    assert {cardio_exp.id, radio_exp.id} <= visible_ids(auth, auditor)
    assert can(auditor, "run-read", radio_exp) and not can(auditor, "run-update", radio_exp, [])


def test_workspace_membership_group_and_direct_grants(auth, hospital):
    names, people = hospital
    owner = login(auth, people[("cardio", "data_scientist")])
    exp = create_experiment(auth, owner, names["cardio"])
    viewer = login(auth, people[("cardio", "viewer")])
    assert not can(viewer, "run-read", exp, auth.grants.grants_for(viewer, [exp])[exp])
    assert exp.id not in visible_ids(auth, viewer)
    auth.grants.grant("experiment", exp.id, "user", people[("cardio", "viewer")], "READ", actor="t")
    assert can(viewer, "run-read", exp, auth.grants.grants_for(viewer, [exp])[exp])
    assert exp.id in visible_ids(auth, viewer)
    assert not can(viewer, "run-update", exp, auth.grants.grants_for(viewer, [exp])[exp])  # role ceiling

    colleague = unique("cardio-ds2")
    auth.accounts.create_user(colleague, PASSWORD, actor="t", roles=["data_scientist"],
                              default_workspace=names["cardio"])
    mate = login(auth, colleague)
    assert can(mate, "run-read", exp, auth.grants.grants_for(mate, [exp])[exp])  # READ from workspace membership
    assert not can(mate, "run-update", exp, auth.grants.grants_for(mate, [exp])[exp])
    group = unique("cardio-editors")
    auth.directory.create_group(group)
    auth.grants.grant("experiment", exp.id, "group", group, "EDIT", actor="t")
    auth.directory.add_group_member(group, colleague)
    mate = login(auth, colleague)  # the membership change is seen on the next request
    assert group in mate.groups
    assert can(mate, "run-update", exp, auth.grants.grants_for(mate, [exp])[exp])
    assert not can(mate, "run-delete", exp, auth.grants.grants_for(mate, [exp])[exp])
    listed = auth.grants.list("experiment", exp.id)
    assert {(g["grantee_kind"], g["permission"]) for g in listed} == {("user", "MANAGE"), ("user", "READ"),
                                                                       ("group", "EDIT")}
    auth.grants.revoke("experiment", exp.id, "group", group)
    assert not can(mate, "run-update", exp, auth.grants.grants_for(mate, [exp])[exp])
    with pytest.raises(MedflowError):
        auth.grants.grant("experiment", exp.id, "user", colleague, "APPROVE", actor="t")  # models only
    with pytest.raises(MedflowError) as err:
        auth.grants.grant("experiment", "999999", "user", colleague, "READ", actor="t")
    assert err.value.code == "RESOURCE_DOES_NOT_EXIST"


def test_non_admins_grant_only_where_they_manage(auth, hospital):
    names, people = hospital
    owner = login(auth, people[("cardio", "data_scientist")])
    exp = create_experiment(auth, owner, names["cardio"])
    auth.grants.require_manage(owner, "experiment", exp.id)
    other = login(auth, people[("radio", "data_scientist")])
    with pytest.raises(MedflowError) as err:
        auth.grants.require_manage(other, "experiment", exp.id)
    assert err.value.code == "RESOURCE_DOES_NOT_EXIST"


def test_break_glass_is_time_limited_reasoned_flagged_and_reviewed(auth, hospital):
    names, people = hospital
    viewer_name = people[("radio", "viewer")]
    viewer = login(auth, viewer_name)
    owner = login(auth, people[("cardio", "data_scientist")])
    exp = create_experiment(auth, owner, names["cardio"])
    assert not can(viewer, "run-read", exp, [])
    with pytest.raises(MedflowError) as err:
        auth.break_glass.activate(viewer, viewer_name, "sepsis alert review for patient safety")
    assert err.value.code == "PERMISSION_DENIED"  # not enabled for this account
    auth.accounts.update_profile(viewer_name, break_glass_allowed=True)
    viewer = login(auth, viewer_name)
    with pytest.raises(MedflowError):
        auth.break_glass.activate(viewer, viewer_name, "urgent")  # a reason must be stated
    with pytest.raises(MedflowError):
        auth.break_glass.activate(viewer, viewer_name, "sepsis alert review for patient safety", minutes=10_000)
    elevation = auth.break_glass.activate(viewer, viewer_name, "sepsis alert review for patient safety", minutes=30)
    viewer = login(auth, viewer_name)
    assert viewer.break_glass and can(viewer, "run-read", exp, []) and exp.id in visible_ids(auth, viewer)
    assert not can(viewer, "run-update", exp, [])
    with auth.db.write() as conn:  # time passes: the elevation runs out by itself
        conn.execute(update(break_glass).where(break_glass.c.id == int(elevation["id"])).values(expiry_time=now_ms() - 1))
    fresh = Authenticator(fast_config(), auth.db)  # (this process cached the expiry it was given)
    header = base64.b64encode(f"{viewer_name}:{PASSWORD}".encode()).decode()
    assert not fresh.authenticate({"authorization": f"Basic {header}"}, "x").break_glass
    second = auth.break_glass.activate(viewer, viewer_name,
                                       "second emergency: stroke pathway check", minutes=5)
    assert login(auth, viewer_name).break_glass
    auth.break_glass.end(viewer_name)
    assert not login(auth, viewer_name).break_glass
    assert second["activated_by"] == viewer_name
    pending = [e for e in auth.break_glass.list(unreviewed_only=True) if e["id"] == elevation["id"]]
    assert pending and pending[0]["reason"].startswith("sepsis")
    with pytest.raises(MedflowError):
        auth.break_glass.review(viewer, int(elevation["id"]), "fine")  # not by the user who had it
    auth.break_glass.review(login(auth, people["auditor"]), int(elevation["id"]), "checked against the incident")
    assert not [e for e in auth.break_glass.list(unreviewed_only=True) if e["id"] == elevation["id"]]


def test_workspace_listing_and_deletion(auth, hospital):
    names, _ = hospital
    listed = {w["name"]: w for w in auth.directory.list_workspaces()}
    assert {names["cardio"], names["radio"], "default"} <= set(listed)
    assert auth.directory.list_workspaces(frozenset({names["radio"]}))[0]["name"] == names["radio"]
    with pytest.raises(MedflowError):
        auth.directory.delete_workspace(names["cardio"])  # holds experiments
    with pytest.raises(MedflowError):
        auth.directory.create_workspace("Not Valid")
    empty = unique("empty")
    auth.directory.create_workspace(empty)
    auth.directory.delete_workspace(empty)
    with pytest.raises(MedflowError) as err:
        auth.directory.get_workspace(empty)
    assert err.value.code == "RESOURCE_DOES_NOT_EXIST"
