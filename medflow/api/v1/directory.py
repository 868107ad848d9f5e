"""groups/* and workspaces/*: clinical teams, departments and who belongs to them."""
from medflow.api.endpoint import Endpoint
from medflow.api.v1.acting import PREFIX, acting, auth_of, require, require_admin

G = f"{PREFIX}/groups"
W = f"{PREFIX}/workspaces"


def create_group(services, req, principal):
    """POST /groups/create {name, description?}"""
    require_admin(principal)
    return {"group": auth_of(services).directory.create_group(req.str("name", required=True),
                                                              req.str("description", default=""))}


def list_groups(services, req, principal):
    """GET /groups/list"""
    require_admin(principal)
    groups = auth_of(services).directory.list_groups()
    return {"groups": groups} if groups else {}


def add_group_member(services, req, principal):
    """POST /groups/add-member {group, username}"""
    require_admin(principal)
    auth_of(services).directory.add_group_member(req.str("group", required=True), req.str("username", required=True))
    return {}


def remove_group_member(services, req, principal):
    """POST /groups/remove-member {group, username}"""
    require_admin(principal)
    auth_of(services).directory.remove_group_member(req.str("group", required=True),
                                                    req.str("username", required=True))
    return {}


def create_workspace(services, req, principal):
    """POST /workspaces/create {name, description?}"""
    require(principal, "workspace-admin")
    return {"workspace": auth_of(services).directory.create_workspace(req.str("name", required=True),
                                                                      req.str("description", default=""))}


def list_workspaces(services, req, principal):
    """GET /workspaces/list — admins and auditors see all, everyone else their own."""
    require(principal, "workspace-list")
    visible = None if principal.sees_all_workspaces else principal.workspaces
    workspaces = auth_of(services).directory.list_workspaces(visible)
    return {"workspaces": workspaces} if workspaces else {}


def get_workspace(services, req, principal):
    """GET /workspaces/get?name="""
    require(principal, "workspace-list")
    visible = None if principal.sees_all_workspaces else principal.workspaces
    return {"workspace": auth_of(services).directory.get_workspace(req.str("name", required=True), visible)}


def update_workspace(services, req, principal):
    """POST /workspaces/update {name, description}"""
    require(principal, "workspace-admin")
    return {"workspace": auth_of(services).directory.update_workspace(req.str("name", required=True),
                                                                      req.str("description", default=""))}


def set_workspace_member(services, req, principal):
    """POST /workspaces/set-member {workspace, kind: user|group, member, permission: NONE|READ|EDIT|MANAGE}"""
    require(principal, "workspace-admin")
    auth_of(services).directory.set_workspace_member(
        req.str("workspace", required=True), req.str("kind", default="user"), req.str("member", required=True),
        req.str("permission"))
    return {}


def remove_workspace_member(services, req, principal):
    """POST /workspaces/remove-member {workspace, kind, member}"""
    require(principal, "workspace-admin")
    auth_of(services).directory.remove_workspace_member(req.str("workspace", required=True),
                                                        req.str("kind", default="user"),
                                                        req.str("member", required=True))
    return {}


ROUTES = [
    Endpoint("POST", f"{G}/create", acting(create_group)),
    Endpoint("GET", f"{G}/list", acting(list_groups)),
    Endpoint("POST", f"{G}/add-member", acting(add_group_member)),
    Endpoint("POST", f"{G}/remove-member", acting(remove_group_member)),
    Endpoint("POST", f"{W}/create", acting(create_workspace)),
    Endpoint("GET", f"{W}/list", acting(list_workspaces)),
    Endpoint("GET", f"{W}/get", acting(get_workspace)),
    Endpoint("POST", f"{W}/update", acting(update_workspace)),
    Endpoint("POST", f"{W}/set-member", acting(set_workspace_member)),
    Endpoint("POST", f"{W}/remove-member", acting(remove_workspace_member)),
]
