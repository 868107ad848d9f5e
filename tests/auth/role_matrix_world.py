"""The hospital the role-matrix tests run in: two departments, one account per role in each, an admin,
and in each department the same set of objects, created once per server through the admin API.

    cardiology, radiology   workspaces; in each: viewer, data_scientist, reviewer, auditor accounts
                            (a data scientist's membership confers EDIT, everyone else's READ; the
                            reviewer also holds APPROVE on the department's registered model)
    per department          experiment, run (metric, param, tag, an artifact file), logged model
                            (with an artifact file), registered model "matrix-model" (the same name
                            in both: names are per workspace) with version 1 and alias "champion"
    MISSING                 ids and names that exist nowhere: the answer another department's
                            objects must be indistinguishable from

`Fresh` creates objects a call may consume (a run to delete, a tag to remove, a throwaway account to
lock), so every allowed call can succeed.
"""
from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field

import requests

from tests.servers import ADMIN_PASSWORD, ADMIN_USER

DEPARTMENTS = ("cardiology", "radiology")
ROLES = ("viewer", "data_scientist", "reviewer", "auditor")
MEMBERSHIP = {"data_scientist": "EDIT"}  # what each role's workspace membership confers (default READ)
MODEL_GRANTS = {"reviewer": "APPROVE"}  # a grant on the department's registered model, MODEL_NAME
PASSWORD = "Role-Matrix-Passphrase-2026"
MODEL_NAME = "matrix-model"
API = "/api"
_counter = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class Account:
    username: str
    password: str
    roles: frozenset[str]
    department: str | None  # None: the admin (every workspace)
    membership: str = "READ"
    model_grant: str = "NONE"  # held on its department's registered model MODEL_NAME

    @property
    def role(self) -> str:
        return next(iter(sorted(self.roles)))

    @property
    def label(self) -> str:
        return f"{self.department or 'all'}/{self.role}"

    def sees(self, workspace: str) -> bool:
        return bool(self.roles & {"admin", "auditor"}) or workspace == self.department


ADMIN = Account(ADMIN_USER, ADMIN_PASSWORD, frozenset({"admin"}), None, "MANAGE")
ANONYMOUS = Account("", "", frozenset(), None, "NONE")


@dataclass
class Dept:
    """One department's objects (or, for MISSING, names of objects that do not exist)."""
    workspace: str
    experiment_id: str = ""
    experiment_name: str = ""
    run_id: str = ""
    logged_model_id: str = ""
    model_name: str = MODEL_NAME
    version: str = "1"
    alias: str = "champion"
    run_file: str = ""          # store path of a run artifact
    model_file: str = ""        # path of a logged-model artifact, relative to the model's root
    extra: dict = field(default_factory=dict)

    @property
    def run_artifacts(self) -> str:
        return f"{self.experiment_id}/{self.run_id}/artifacts"

    def placeholders(self) -> dict[str, str]:
        """Values that differ between departments, to compare answers with ids masked."""
        values = {"workspace": self.workspace, "experiment_name": self.experiment_name}  # ids: masked by shape
        return {v: f"<{k}>" for k, v in values.items() if v}


MISSING = Dept("nowhere", experiment_id="999999", experiment_name="no-such-experiment", run_id="f" * 32,
               logged_model_id="m-" + "f" * 32, model_name="no-such-model",
               run_file=f"999999/{'f' * 32}/artifacts/notes.txt", model_file="MLmodel")


class Http:
    """Raw HTTP as one account: exactly its credentials (no netrc), JSON in and out."""

    def __init__(self, base_url: str, account: Account):
        self.base_url, self.account = base_url, account
        self.session = requests.Session()
        self.session.trust_env = False
        if account.username:
            self.session.auth = (account.username, account.password)

    def request(self, method: str, path: str, *, json=None, params=None, data=None, workspace=None):
        headers = {"X-MLFLOW-WORKSPACE": workspace} if workspace else {}
        return self.session.request(method, self.base_url + API + path, json=json, params=params, data=data,
                                    headers=headers, timeout=60)

    def ok(self, method: str, path: str, **kwargs) -> dict:
        response = self.request(method, path, **kwargs)
        assert response.status_code in (200, 201, 204), f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content and response.status_code != 204 else {}


class Fresh:
    """Objects made by the admin for one call to use up; for MISSING, names of objects that do not exist."""

    def __init__(self, admin: Http, dept: Dept):
        self.admin, self.dept = admin, dept
        self.missing = dept is MISSING

    def _ws(self, method, path, **kwargs) -> dict:
        return self.admin.ok(method, path, workspace=self.dept.workspace, **kwargs)

    def experiment(self, *, deleted: bool = False) -> str:
        if self.missing:
            return "999998"
        experiment_id = self._ws("POST", "/2.0/mlflow/experiments/create",
                                 json={"name": unique("fresh")})["experiment_id"]
        if deleted:
            self._ws("POST", "/2.0/mlflow/experiments/delete", json={"experiment_id": experiment_id})
        return experiment_id

    def run(self, *, deleted: bool = False, tag: str | None = None) -> str:
        if self.missing:
            return secrets.token_hex(16)
        run = self._ws("POST", "/2.0/mlflow/runs/create", json={"experiment_id": self.dept.experiment_id})
        run_id = run["run"]["info"]["run_id"]
        if tag:
            self._ws("POST", "/2.0/mlflow/runs/set-tag", json={"run_id": run_id, "key": tag, "value": "v"})
        if deleted:
            self._ws("POST", "/2.0/mlflow/runs/delete", json={"run_id": run_id})
        return run_id

    def experiment_tag(self, key: str) -> None:
        if not self.missing:
            self._ws("POST", "/2.0/mlflow/experiments/set-experiment-tag",
                     json={"experiment_id": self.dept.experiment_id, "key": key, "value": "v"})

    def logged_model(self, *, tag: str | None = None) -> str:
        if self.missing:
            return "m-" + secrets.token_hex(16)
        body = {"experiment_id": self.dept.experiment_id, "name": unique("lm")}
        if tag:
            body["tags"] = [{"key": tag, "value": "v"}]
        return self._ws("POST", "/2.0/mlflow/logged-models", json=body)["model"]["info"]["model_id"]

    def registered_model(self) -> str:
        if self.missing:
            return unique("missing-model")
        name = unique("fresh-model")
        self._ws("POST", "/2.0/mlflow/registered-models/create", json={"name": name})
        return name

    def model_tag(self, key: str) -> None:
        if not self.missing:
            self._ws("POST", "/2.0/mlflow/registered-models/set-tag",
                     json={"name": self.dept.model_name, "key": key, "value": "v"})

    def version(self, *, tag: str | None = None) -> str:
        if self.missing:
            return "1"
        version = self._ws("POST", "/2.0/mlflow/model-versions/create",
                           json={"name": self.dept.model_name, "source": f"runs:/{self.dept.run_id}",
                                 "run_id": self.dept.run_id})["model_version"]["version"]
        if tag:
            self._ws("POST", "/2.0/mlflow/model-versions/set-tag",
                     json={"name": self.dept.model_name, "version": version, "key": tag, "value": "v"})
        return version

    def under_review(self) -> str:
        """A new version of the department's model with an open review request for Staging."""
        version = self.version()
        if not self.missing:
            self._ws("POST", "/medflow/v1/approvals/request",
                     json={"name": self.dept.model_name, "version": version, "stage": "Staging"})
        return version

    def alias(self, alias: str) -> None:
        if not self.missing:
            self._ws("POST", "/2.0/mlflow/registered-models/alias",
                     json={"name": self.dept.model_name, "alias": alias, "version": self.dept.version})

    def artifact(self) -> str:
        """A run artifact file to delete: its store path."""
        path = f"{self.dept.run_artifacts}/{unique('doomed')}.txt"
        if not self.missing:
            response = self.admin.request("PUT", f"/2.0/mlflow-artifacts/artifacts/{path}", data=b"x")
            assert response.status_code == 200, response.text
        return path

    # accounts and directory entries (global, not per department)
    def user(self, *, deactivated: bool = False, locked: bool = False) -> str:
        username = unique("throwaway")
        self.admin.ok("POST", "/medflow/v1/users/create",
                      json={"username": username, "password": PASSWORD, "roles": ["viewer"]})
        if deactivated:
            self.admin.ok("POST", "/medflow/v1/users/deactivate", json={"username": username})
        if locked:
            self.admin.ok("POST", "/medflow/v1/users/lock", json={"username": username})
        return username

    def group(self, member: str | None = None) -> str:
        name = unique("group")
        self.admin.ok("POST", "/medflow/v1/groups/create", json={"name": name})
        if member:
            self.admin.ok("POST", "/medflow/v1/groups/add-member", json={"group": name, "username": member})
        return name

    def workspace(self) -> str:
        name = unique("ws")
        self.admin.ok("POST", "/medflow/v1/workspaces/create", json={"name": name})
        return name

    def elevation(self, holder: str) -> str:
        return self.admin.ok("POST", "/medflow/v1/break-glass/activate",
                             json={"username": holder, "reason": "role matrix: review this elevation",
                                   "minutes": 5})["elevation"]["id"]


def build_hospital(base_url: str) -> tuple[list[Account], dict[str, Dept]]:
    """Create the departments, accounts and objects (once per server); return (accounts, depts)."""
    admin = Http(base_url, ADMIN)
    accounts = [ADMIN]
    depts = {}
    for workspace in DEPARTMENTS:
        admin.ok("POST", "/medflow/v1/workspaces/create", json={"name": workspace})
        for role in ROLES:
            account = Account(f"{workspace}.{role}", PASSWORD, frozenset({role}), workspace,
                              MEMBERSHIP.get(role, "READ"), MODEL_GRANTS.get(role, "NONE"))
            admin.ok("POST", "/medflow/v1/users/create",
                     json={"username": account.username, "password": PASSWORD, "roles": [role],
                           "default_workspace": workspace})
            if account.membership != "READ":
                admin.ok("POST", "/medflow/v1/workspaces/set-member",
                         json={"workspace": workspace, "kind": "user", "member": account.username,
                               "permission": account.membership})
            accounts.append(account)
        depts[workspace] = _populate(admin, workspace)
        for account in accounts:
            if account.department == workspace and account.model_grant != "NONE":
                admin.ok("POST", "/medflow/v1/grants/grant", json={
                    "resource_type": "registered_model", "resource": MODEL_NAME, "workspace": workspace,
                    "kind": "user", "member": account.username, "permission": account.model_grant})
    return accounts, depts


def _populate(admin: Http, workspace: str) -> Dept:
    def ok(method, path, **kwargs):
        return admin.ok(method, path, workspace=workspace, **kwargs)

    dept = Dept(workspace, experiment_name=f"matrix-{workspace}")
    dept.experiment_id = ok("POST", "/2.0/mlflow/experiments/create",
                            json={"name": dept.experiment_name})["experiment_id"]
    dept.run_id = ok("POST", "/2.0/mlflow/runs/create",
                     json={"experiment_id": dept.experiment_id})["run"]["info"]["run_id"]
    ok("POST", "/2.0/mlflow/runs/log-batch", json={
        "run_id": dept.run_id, "metrics": [{"key": "auc", "value": 0.9, "timestamp": 1, "step": 0}],
        "params": [{"key": "lr", "value": "0.1"}], "tags": [{"key": "team", "value": workspace}]})
    dept.run_file = f"{dept.run_artifacts}/notes.txt"
    assert admin.request("PUT", f"/2.0/mlflow-artifacts/artifacts/{dept.run_file}", data=b"notes").status_code == 200
    model = ok("POST", "/2.0/mlflow/logged-models", json={"experiment_id": dept.experiment_id, "name": "lm",
                                                          "source_run_id": dept.run_id})["model"]["info"]
    dept.logged_model_id, dept.model_file = model["model_id"], "MLmodel"
    root = model["artifact_uri"].removeprefix("mlflow-artifacts:/")
    uploaded = admin.request("PUT", f"/2.0/mlflow-artifacts/artifacts/{root}/MLmodel", data=b"flavors: {}")
    assert uploaded.status_code == 200, uploaded.text
    ok("POST", "/2.0/mlflow/registered-models/create", json={"name": dept.model_name})
    ok("POST", "/2.0/mlflow/model-versions/create", json={"name": dept.model_name, "source": f"runs:/{dept.run_id}",
                                                          "run_id": dept.run_id})
    ok("POST", "/2.0/mlflow/registered-models/alias", json={"name": dept.model_name, "alias": dept.alias,
                                                            "version": dept.version})
    return dept
