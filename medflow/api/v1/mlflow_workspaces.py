"""MLflow 3's workspace endpoints (/api/3.0/mlflow/workspaces), as the 3.x client calls them.

Members list and get only their own workspaces (another department's does not exist for
them); creating, updating and deleting are for admins. Membership itself is managed with
MedFlow's workspaces/set-member (MLflow has no such call).
"""
from starlette.responses import Response

from medflow.api.endpoint import Endpoint, json_response
from medflow.api.v1.acting import acting, auth_of, require
from medflow.auth.directory import check_workspace_name
from medflow.errors import MedflowError

P = "/3.0/mlflow/workspaces"


def _wire(workspace: dict) -> dict:
    out = {"name": workspace["name"]}
    if workspace.get("description"):
        out["description"] = workspace["description"]
    return out


def _visible(principal):
    return None if principal.sees_all_workspaces else principal.workspaces


def list_workspaces(services, req, principal):
    """GET /3.0/mlflow/workspaces"""
    require(principal, "workspace-list")
    found = auth_of(services).directory.list_workspaces(_visible(principal))
    return {"workspaces": [_wire(w) for w in found]} if found else {}


def create_workspace(services, req, principal):
    """POST /3.0/mlflow/workspaces {name, description?} -> 201 {workspace}"""
    require(principal, "workspace-admin")
    name = req.str("name", required=True)
    if name == "default":
        raise MedflowError.invalid("The 'default' workspace is reserved and cannot be created")
    created = auth_of(services).directory.create_workspace(name, req.str("description", default=""))
    return json_response({"workspace": _wire(created)}, 201)


def get_workspace(services, req, principal):
    """GET /3.0/mlflow/workspaces/{workspace_name}"""
    require(principal, "workspace-list")
    name = req.path_params["workspace_name"]
    return {"workspace": _wire(auth_of(services).directory.get_workspace(name, _visible(principal)))}


def update_workspace(services, req, principal):
    """PATCH /3.0/mlflow/workspaces/{workspace_name} {description}"""
    require(principal, "workspace-admin")
    name = req.path_params["workspace_name"]
    if "description" not in req.fields:
        raise MedflowError.invalid("Workspace update must have at least one key")
    return {"workspace": _wire(auth_of(services).directory.update_workspace(name, req.str("description", default="")))}


def delete_workspace(services, req, principal):
    """DELETE /3.0/mlflow/workspaces/{workspace_name} -> 204 (only an empty workspace)"""
    require(principal, "workspace-admin")
    name = req.path_params["workspace_name"]
    if name != "default":
        check_workspace_name(name)
    auth_of(services).directory.delete_workspace(name)
    return Response(status_code=204)


ROUTES = [
    Endpoint("GET", P, acting(list_workspaces)),
    Endpoint("POST", P, acting(create_workspace)),
    Endpoint("GET", P + "/{workspace_name}", acting(get_workspace)),
    Endpoint("PATCH", P + "/{workspace_name}", acting(update_workspace)),
    Endpoint("DELETE", P + "/{workspace_name}", acting(delete_workspace)),
]
