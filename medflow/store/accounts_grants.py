"""SQL for per-resource grants, and the grants that apply to a principal, fetched set-based.

`grants_for` returns, for a page of resources at once, every grant that names the principal
or one of its groups — direct grants on the resource plus the permission its workspace
membership confers — so authorization of a search page costs two queries, not 2N.
`readable_clause` is the same rule as a SQL condition, for searches to filter silently.
"""
from __future__ import annotations

from sqlalchemy import (Connection, Integer, String, and_, bindparam, cast, delete, exists, false, insert, or_,
                        select, true)

from medflow.auth.permissions import READ_PERMISSIONS, Grant, ResourceRef
from medflow.auth.principal import Principal
from medflow.services.clock import now_ms
from medflow.store.accounts import bump_generation
from medflow.store.schema import experiments, registered_models
from medflow.store.schema_accounts import accounts, resource_grants, user_groups, workspace_members

USER, GROUP = "user", "group"


def _group_ids(names: frozenset[str]):
    return select(user_groups.c.group_id).where(user_groups.c.name.in_(sorted(names)))


def _names_principal(table, principal: Principal):
    """Rows of `table` (grantee_kind, grantee_id) that name the principal or one of its groups."""
    cond = and_(table.c.grantee_kind == USER, table.c.grantee_id == (principal.account_id or -1))
    if principal.groups:
        cond = or_(cond, and_(table.c.grantee_kind == GROUP, table.c.grantee_id.in_(_group_ids(principal.groups))))
    return cond


def grant(conn: Connection, *, resource_type: str, resource_id: str, kind: str, grantee_id: int,
          permission: str, now: int, granted_by: str) -> bool:
    key = and_(resource_grants.c.resource_type == resource_type, resource_grants.c.resource_id == resource_id,
               resource_grants.c.grantee_kind == kind, resource_grants.c.grantee_id == grantee_id,
               resource_grants.c.permission == permission)
    if conn.execute(select(resource_grants.c.permission).where(key)).first():
        return False
    conn.execute(insert(resource_grants).values(resource_type=resource_type, resource_id=resource_id,
                                                grantee_kind=kind, grantee_id=grantee_id, permission=permission,
                                                granted_time=now, granted_by=granted_by))
    bump_generation(conn, principals_unaffected=True)  # servers cache grants per generation
    return True


def revoke(conn: Connection, *, resource_type: str, resource_id: str, kind: str, grantee_id: int,
           permission: str | None) -> int:
    cond = [resource_grants.c.resource_type == resource_type, resource_grants.c.resource_id == resource_id,
            resource_grants.c.grantee_kind == kind, resource_grants.c.grantee_id == grantee_id]
    if permission:
        cond.append(resource_grants.c.permission == permission)
    return _delete_grants(conn, cond)


def drop_resource_grants(conn: Connection, resource_type: str, resource_id) -> int:
    """Every grant on a resource that is deleted for good: an id the database may hand out
    again (SQLite reuses the highest rowid) must not carry its old grants to a new resource."""
    return _delete_grants(conn, [resource_grants.c.resource_type == resource_type,
                                 resource_grants.c.resource_id == str(resource_id)])


def _delete_grants(conn: Connection, cond: list) -> int:
    removed = conn.execute(delete(resource_grants).where(*cond)).rowcount
    if removed:
        bump_generation(conn, principals_unaffected=True)  # servers cache grants per generation
    return removed


def list_grants(conn: Connection, *, resource_type: str | None = None, resource_id: str | None = None) -> list[dict]:
    query = (select(resource_grants, accounts.c.username, user_groups.c.name.label("group_name"))
             .outerjoin(accounts, and_(resource_grants.c.grantee_kind == USER,
                                       accounts.c.account_id == resource_grants.c.grantee_id))
             .outerjoin(user_groups, and_(resource_grants.c.grantee_kind == GROUP,
                                          user_groups.c.group_id == resource_grants.c.grantee_id)))
    if resource_type:
        query = query.where(resource_grants.c.resource_type == resource_type)
    if resource_id:
        query = query.where(resource_grants.c.resource_id == resource_id)
    query = query.order_by(resource_grants.c.resource_type, resource_grants.c.resource_id,
                           resource_grants.c.grantee_kind, resource_grants.c.grantee_id, resource_grants.c.permission)
    return [{"resource_type": r.resource_type, "resource_id": r.resource_id, "grantee_kind": r.grantee_kind,
             "grantee": r.username if r.grantee_kind == USER else r.group_name, "permission": r.permission,
             "granted_time": r.granted_time, "granted_by": r.granted_by} for r in conn.execute(query)]


def grants_for(conn: Connection, principal: Principal, resources: list[ResourceRef]) -> dict[ResourceRef, list[Grant]]:
    """Every grant naming the principal (or its groups) on each resource, including workspace membership."""
    out: dict[ResourceRef, list[Grant]] = {r: [] for r in resources}
    if not resources or principal.account_id is None and not principal.groups:
        return out
    by_type: dict[str, dict[str, list[ResourceRef]]] = {}
    for ref in resources:
        by_type.setdefault(ref.type, {}).setdefault(ref.id, []).append(ref)
    for resource_type, by_id in by_type.items():
        rows = conn.execute(select(resource_grants.c.resource_id, resource_grants.c.grantee_kind,
                                   resource_grants.c.permission)
                            .where(resource_grants.c.resource_type == resource_type,
                                   resource_grants.c.resource_id.in_(list(by_id)),
                                   _names_principal(resource_grants, principal)))
        for r in rows:
            for ref in by_id[r.resource_id]:
                out[ref].append(Grant(r.grantee_kind, r.permission, "resource"))
    workspace_names = sorted({r.workspace for r in resources})
    rows = conn.execute(select(workspace_members.c.workspace, workspace_members.c.grantee_kind,
                               workspace_members.c.permission)
                        .where(workspace_members.c.workspace.in_(workspace_names),
                               _names_principal(workspace_members, principal)))
    for r in rows:
        for ref in resources:
            if ref.workspace == r.workspace:
                out[ref].append(Grant(r.grantee_kind, r.permission, "workspace"))
    return out


def readable_clause(principal: Principal, resource_type: str, id_column, workspace_column, *,
                    id_as_string=None):
    """SQL condition: rows of `resource_type` the principal may read (searches filter with it).

    Grants store ids as text; an integer id column (experiments) is cast unless `id_as_string`
    gives the expression to compare with.
    """
    if principal.sees_all_workspaces:
        return true()
    if not principal.workspaces:
        return false()
    id_text = id_as_string
    if id_text is None:
        id_text = cast(id_column, String(64)) if isinstance(id_column.type, Integer) else id_column
    in_workspace = workspace_column.in_(sorted(principal.workspaces))
    member_reads = exists().where(workspace_members.c.workspace == workspace_column,
                                  workspace_members.c.permission.in_(sorted(READ_PERMISSIONS)),
                                  _names_principal(workspace_members, principal))
    granted = exists().where(resource_grants.c.resource_type == resource_type,
                             resource_grants.c.resource_id == id_text,
                             _names_principal(resource_grants, principal))
    return and_(in_workspace, or_(member_reads, granted))


def grant_creator(conn: Connection, resource_type: str, resource_id, principal: Principal,
                  now: int | None = None) -> None:
    """The creator of an experiment or model gets MANAGE, in the transaction of the create."""
    if principal.account_id is None:
        return
    grant(conn, resource_type=resource_type, resource_id=str(resource_id), kind=USER,
          grantee_id=principal.account_id, permission="MANAGE", now=now if now is not None else now_ms(),
          granted_by=principal.username)


# Built once: every registry request resolves its model this way.
_EXPERIMENT_REF = select(experiments.c.experiment_id, experiments.c.workspace).where(
    experiments.c.experiment_id == bindparam("experiment_id"))
_MODEL_REF = select(registered_models.c.id, registered_models.c.workspace).where(
    registered_models.c.name == bindparam("name"), registered_models.c.workspace == bindparam("workspace"))


def resolve_resource(conn: Connection, resource_type: str, key: str, workspace: str | None):
    """The ResourceRef of an experiment (by id) or a registered model (by name in a workspace), or None."""
    if resource_type == "experiment":
        if not key.isdigit():
            return None
        row = conn.execute(_EXPERIMENT_REF, {"experiment_id": int(key)}).first()
        return ResourceRef("experiment", str(row.experiment_id), row.workspace) if row else None
    row = conn.execute(_MODEL_REF, {"name": key, "workspace": workspace or "default"}).first()
    return ResourceRef("registered_model", str(row.id), row.workspace) if row else None
