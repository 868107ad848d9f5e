"""The authorization decision: deny by default, roles as a ceiling, grants per resource.

A request may do `action` on `resource` only when all of these hold:

1. the action is in ACTIONS (an unknown action is denied — no route ships open);
2. one of the principal's roles may ever do it (an auditor never writes, a reviewer never
   trains, only a reviewer approves);
3. the resource's workspace is one of the principal's (auditors, admins and an active
   break-glass elevation see every workspace); otherwise the resource "does not exist";
4. for resource actions, a grant gives the needed permission: a direct grant to the user
   or one of its groups, or the permission its workspace membership confers. Admins need
   no grant; auditors and break-glass need none for reading.

Permissions: READ ⊂ EDIT ⊂ MANAGE; APPROVE (registered models) = READ + approve; MANAGE
includes APPROVE, yet only roles allowed to approve ever can.
"""
from __future__ import annotations

from dataclasses import dataclass

from medflow.auth.principal import ADMIN, AUDITOR, DATA_SCIENTIST, REVIEWER, ROLES, Principal
from medflow.errors import PERMISSION_DENIED, MedflowError

READ, EDIT, MANAGE, APPROVE, NONE = "READ", "EDIT", "MANAGE", "APPROVE", "NONE"
CAPABILITIES = {NONE: frozenset(), READ: frozenset({READ}), EDIT: frozenset({READ, EDIT}),
                MANAGE: frozenset({READ, EDIT, MANAGE, APPROVE}), APPROVE: frozenset({READ, APPROVE})}
READ_PERMISSIONS = frozenset(p for p, caps in CAPABILITIES.items() if READ in caps)
GRANTABLE = {"experiment": (READ, EDIT, MANAGE), "registered_model": (READ, EDIT, MANAGE, APPROVE)}
WORKSPACE_MEMBER_PERMISSIONS = (NONE, READ, EDIT, MANAGE)

GLOBAL, WORKSPACE, EXPERIMENT, REGISTERED_MODEL = "global", "workspace", "experiment", "registered_model"

EVERYONE = frozenset(ROLES)
TRAINERS = frozenset({DATA_SCIENTIST, ADMIN})
APPROVERS = frozenset({REVIEWER})
ADMINS = frozenset({ADMIN})
AUDITORS = frozenset({AUDITOR, ADMIN})


@dataclass(frozen=True)
class ActionSpec:
    resource: str  # global | workspace | experiment | registered_model
    permission: str | None  # needed on the resource (resource actions only)
    roles: frozenset[str]  # the roles that may ever do it


@dataclass(frozen=True)
class ResourceRef:
    type: str  # workspace | experiment | registered_model
    id: str  # experiment id, registered model id, or the workspace name
    workspace: str


@dataclass(frozen=True)
class Grant:
    """A grant that names the principal: kind 'user' or 'group', from a resource grant or a membership."""
    grantee_kind: str
    permission: str
    source: str = "resource"  # resource | workspace


ACTIONS: dict[str, ActionSpec] = {
    # experiments, and what lives in them: runs, metrics, artifacts, logged models, datasets
    "experiment-create": ActionSpec(WORKSPACE, None, TRAINERS),
    "experiment-search": ActionSpec(WORKSPACE, None, EVERYONE),  # results filtered by readable_clause
    "experiment-read": ActionSpec(EXPERIMENT, READ, EVERYONE),
    "experiment-update": ActionSpec(EXPERIMENT, EDIT, TRAINERS),
    "experiment-delete": ActionSpec(EXPERIMENT, MANAGE, TRAINERS),
    "experiment-manage-permissions": ActionSpec(EXPERIMENT, MANAGE, TRAINERS),
    "run-create": ActionSpec(EXPERIMENT, EDIT, TRAINERS),
    "run-read": ActionSpec(EXPERIMENT, READ, EVERYONE),
    "run-update": ActionSpec(EXPERIMENT, EDIT, TRAINERS),
    "run-delete": ActionSpec(EXPERIMENT, MANAGE, TRAINERS),
    "artifact-read": ActionSpec(EXPERIMENT, READ, EVERYONE),
    "artifact-write": ActionSpec(EXPERIMENT, EDIT, TRAINERS),
    "artifact-delete": ActionSpec(EXPERIMENT, MANAGE, TRAINERS),
    "logged-model-create": ActionSpec(EXPERIMENT, EDIT, TRAINERS),
    "logged-model-read": ActionSpec(EXPERIMENT, READ, EVERYONE),
    "logged-model-update": ActionSpec(EXPERIMENT, EDIT, TRAINERS),
    "logged-model-delete": ActionSpec(EXPERIMENT, MANAGE, TRAINERS),
    # the model registry
    "registered-model-create": ActionSpec(WORKSPACE, None, TRAINERS),
    "registered-model-search": ActionSpec(WORKSPACE, None, EVERYONE),
    "registered-model-read": ActionSpec(REGISTERED_MODEL, READ, EVERYONE),
    "registered-model-update": ActionSpec(REGISTERED_MODEL, EDIT, TRAINERS),
    "registered-model-delete": ActionSpec(REGISTERED_MODEL, MANAGE, TRAINERS),
    "registered-model-alias": ActionSpec(REGISTERED_MODEL, EDIT, TRAINERS),
    "registered-model-manage-permissions": ActionSpec(REGISTERED_MODEL, MANAGE, TRAINERS),
    "model-version-create": ActionSpec(REGISTERED_MODEL, EDIT, TRAINERS),
    "model-version-read": ActionSpec(REGISTERED_MODEL, READ, EVERYONE),
    "model-version-update": ActionSpec(REGISTERED_MODEL, EDIT, TRAINERS),
    "model-version-delete": ActionSpec(REGISTERED_MODEL, MANAGE, TRAINERS),
    "model-version-transition": ActionSpec(REGISTERED_MODEL, EDIT, TRAINERS),
    "model-version-approve": ActionSpec(REGISTERED_MODEL, APPROVE, APPROVERS),
    # workspaces (MLflow 3's /api/3.0/mlflow/workspaces and MedFlow's admin API)
    "workspace-list": ActionSpec(GLOBAL, None, EVERYONE),  # filtered to the principal's workspaces
    "workspace-read": ActionSpec(WORKSPACE, None, EVERYONE),
    "workspace-admin": ActionSpec(GLOBAL, None, ADMINS),
    # the server, MedFlow's own API
    "server-info": ActionSpec(GLOBAL, None, EVERYONE),
    "ui-view": ActionSpec(GLOBAL, None, EVERYONE),
    "own-account": ActionSpec(GLOBAL, None, EVERYONE),  # whoami, own password and tokens
    "account-admin": ActionSpec(GLOBAL, None, ADMINS),  # users, groups, memberships, grants, tokens
    "break-glass-activate": ActionSpec(GLOBAL, None, EVERYONE),  # only accounts an admin allowed
    "break-glass-review": ActionSpec(GLOBAL, None, AUDITORS),
    "audit-read": ActionSpec(GLOBAL, None, AUDITORS),
}


def capabilities(grants) -> frozenset[str]:
    caps: set[str] = set()
    for g in grants:
        caps |= CAPABILITIES.get(g.permission, frozenset())
    return frozenset(caps)


def can(principal: Principal, action: str, resource: ResourceRef | None = None, grants=()) -> bool:
    """True when `principal` may do `action` on `resource`, given the grants that name it."""
    return _decide(principal, action, resource, grants) is None


def _decide(principal: Principal, action: str, resource: ResourceRef | None, grants) -> str | None:
    """None when allowed, else why not: 'unknown', 'role', 'workspace' or 'grant'."""
    spec = ACTIONS.get(action)
    if spec is None:
        return "unknown"
    if principal.roles.isdisjoint(spec.roles):
        return "role"
    if spec.resource == GLOBAL:
        return None
    if resource is None:
        return "unknown"
    if not principal.in_workspace(resource.workspace):
        return "workspace"
    if spec.resource == WORKSPACE:
        return None
    if resource.type != spec.resource:
        return "unknown"
    if principal.is_admin:
        return None
    if spec.permission == READ and principal.sees_all_workspaces:
        return None  # auditors read everything; break-glass reads in an emergency
    return None if spec.permission in capabilities(grants) else "grant"


def authorize_role(principal: Principal, action: str) -> None:
    """Raise PERMISSION_DENIED unless one of the principal's roles may ever do `action`.

    Checked before anything about a resource is looked up: the answer depends on the roles
    alone, so it cannot tell a caller whether a resource exists (or in which workspace).
    """
    spec = ACTIONS.get(action)
    if spec is None:
        authorize(principal, action)  # raises the unknown-action message
    elif principal.roles.isdisjoint(spec.roles):
        _deny_role(principal, action)


def _deny_role(principal: Principal, action: str):
    roles = ", ".join(sorted(principal.roles)) or "none"
    allowed = ", ".join(sorted(ACTIONS[action].roles))
    raise MedflowError(PERMISSION_DENIED,
                       f"Permission denied: '{action}' needs one of the roles {allowed}; "
                       f"user '{principal.username}' has {roles}. An admin can change roles with "
                       "`medflow users set-roles`.")


def authorize(principal: Principal, action: str, resource: ResourceRef | None = None, grants=(), *,
              not_found_message: str = "The requested resource does not exist.") -> None:
    """Raise unless allowed: another workspace's resource is not found; otherwise PERMISSION_DENIED."""
    why = _decide(principal, action, resource, grants)
    if why is None:
        return
    if why == "workspace":
        raise MedflowError.not_found(not_found_message)
    if why == "role":
        _deny_role(principal, action)
    if why == "grant":
        spec = ACTIONS[action]
        what = f"{resource.type.replace('_', ' ')} {resource.id}"
        raise MedflowError(PERMISSION_DENIED,
                           f"Permission denied: '{action}' on {what} needs {spec.permission} permission, "
                           f"which user '{principal.username}' does not have. Ask a user with MANAGE on it, "
                           "or an admin, to grant it (`medflow grants grant`).")
    raise MedflowError(PERMISSION_DENIED, f"Permission denied: '{action}' is not a known action "
                                          "(MedFlow denies what it has no rule for).")


def check_permission_name(permission: str | None, resource_type: str) -> str:
    allowed = GRANTABLE.get(resource_type)
    if allowed is None:
        raise MedflowError.invalid(f"Unknown resource type '{resource_type}': use experiment or registered_model.")
    value = (permission or "").upper()
    if value not in allowed:
        raise MedflowError.invalid(f"Invalid permission '{permission}' for a {resource_type}: "
                                   f"use one of {', '.join(allowed)}.")
    return value
