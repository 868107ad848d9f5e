"""SQL for groups, group memberships, workspaces and workspace memberships."""
from __future__ import annotations

from sqlalchemy import Connection, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from medflow.errors import MedflowError
from medflow.store.engine import is_unique_violation, upsert
from medflow.store.schema_accounts import accounts, group_members, user_groups, workspace_members, workspaces

USER, GROUP = "user", "group"


# --- groups ------------------------------------------------------------------------------------

def create_group(conn: Connection, name: str, description: str, now: int) -> int:
    try:
        return conn.execute(insert(user_groups).values(name=name, description=description, creation_time=now)
                            .returning(user_groups.c.group_id)).scalar_one()
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise MedflowError.already_exists(f"A group named '{name}' already exists.") from None
        raise


def require_group(conn: Connection, name: str):
    row = conn.execute(select(user_groups).where(user_groups.c.name == name)).first()
    if row is None:
        raise MedflowError.not_found(f"No group named '{name}'. Create it with `medflow groups create`.")
    return row


def list_groups(conn: Connection) -> list[dict]:
    groups = conn.execute(select(user_groups).order_by(user_groups.c.name)).all()
    members: dict[int, list[str]] = {}
    for row in conn.execute(select(group_members.c.group_id, accounts.c.username)
                            .join(accounts, accounts.c.account_id == group_members.c.account_id)
                            .order_by(accounts.c.username)):
        members.setdefault(row.group_id, []).append(row.username)
    out = []
    for g in groups:
        item = {"id": str(g.group_id), "name": g.name, "description": g.description,
                "creation_time": g.creation_time}
        if members.get(g.group_id):
            item["members"] = members[g.group_id]
        out.append(item)
    return out


def add_member(conn: Connection, group_id: int, account_id: int) -> bool:
    exists = conn.execute(select(group_members.c.group_id).where(group_members.c.group_id == group_id,
                                                                 group_members.c.account_id == account_id)).first()
    if exists:
        return False
    conn.execute(insert(group_members).values(group_id=group_id, account_id=account_id))
    return True


def remove_member(conn: Connection, group_id: int, account_id: int) -> bool:
    return conn.execute(delete(group_members).where(group_members.c.group_id == group_id,
                                                    group_members.c.account_id == account_id)).rowcount > 0


def groups_of_accounts(conn: Connection, account_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not account_ids:
        return out
    for row in conn.execute(select(group_members.c.account_id, user_groups.c.name)
                            .join(user_groups, user_groups.c.group_id == group_members.c.group_id)
                            .where(group_members.c.account_id.in_(account_ids)).order_by(user_groups.c.name)):
        out.setdefault(row.account_id, []).append(row.name)
    return out


# --- workspaces --------------------------------------------------------------------------------

def create_workspace(conn: Connection, name: str, description: str, now: int) -> None:
    try:
        conn.execute(insert(workspaces).values(name=name, description=description, creation_time=now))
    except IntegrityError as exc:
        if is_unique_violation(exc):
            raise MedflowError.already_exists(f"A workspace named '{name}' already exists.") from None
        raise


def get_workspace(conn: Connection, name: str):
    return conn.execute(select(workspaces).where(workspaces.c.name == name)).first()


def require_workspace(conn: Connection, name: str):
    row = get_workspace(conn, name)
    if row is None:
        raise MedflowError.not_found(f"No workspace named '{name}'. Create it with `medflow workspaces create`.")
    return row


def set_description(conn: Connection, name: str, description: str) -> None:
    conn.execute(update(workspaces).where(workspaces.c.name == name).values(description=description))


def list_workspaces(conn: Connection, names: frozenset[str] | None = None) -> list[dict]:
    """Workspaces with their members; only `names` when given (what a member may see)."""
    query = select(workspaces).order_by(workspaces.c.name)
    if names is not None:
        query = query.where(workspaces.c.name.in_(sorted(names)))
    rows = conn.execute(query).all()
    members = _members(conn, [r.name for r in rows])
    out = []
    for r in rows:
        item = {"name": r.name, "description": r.description, "creation_time": r.creation_time}
        if members.get(r.name):
            item["members"] = members[r.name]
        out.append(item)
    return out


def _members(conn: Connection, names: list[str]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    if not names:
        return out
    user_rows = conn.execute(
        select(workspace_members.c.workspace, workspace_members.c.permission, accounts.c.username.label("name"))
        .join(accounts, and_(workspace_members.c.grantee_kind == USER,
                             accounts.c.account_id == workspace_members.c.grantee_id))
        .where(workspace_members.c.workspace.in_(names)))
    group_rows = conn.execute(
        select(workspace_members.c.workspace, workspace_members.c.permission, user_groups.c.name.label("name"))
        .join(user_groups, and_(workspace_members.c.grantee_kind == GROUP,
                                user_groups.c.group_id == workspace_members.c.grantee_id))
        .where(workspace_members.c.workspace.in_(names)))
    for kind, rows in ((USER, user_rows), (GROUP, group_rows)):
        for r in rows:
            out.setdefault(r.workspace, []).append({"kind": kind, "name": r.name, "permission": r.permission})
    for items in out.values():
        items.sort(key=lambda m: (m["kind"], m["name"]))
    return out


def set_workspace_member(conn: Connection, workspace: str, kind: str, grantee_id: int, permission: str) -> None:
    upsert(conn, workspace_members, [{"workspace": workspace, "grantee_kind": kind, "grantee_id": grantee_id,
                                      "permission": permission}],
           ["workspace", "grantee_kind", "grantee_id"], ["permission"])


def remove_workspace_member(conn: Connection, workspace: str, kind: str, grantee_id: int) -> bool:
    return conn.execute(delete(workspace_members).where(workspace_members.c.workspace == workspace,
                                                        workspace_members.c.grantee_kind == kind,
                                                        workspace_members.c.grantee_id == grantee_id)).rowcount > 0


# --- what a principal is a member of -----------------------------------------------------------

def memberships(conn: Connection, account_id: int, external_groups: frozenset[str] = frozenset()):
    """(group names, workspace names) of an account: its own groups plus the identity provider's
    groups that exist in MedFlow, and the workspaces the account or any of those groups is in."""
    condition = group_members.c.account_id == account_id
    query = select(user_groups.c.group_id, user_groups.c.name).outerjoin(
        group_members, and_(group_members.c.group_id == user_groups.c.group_id, condition))
    if external_groups:
        query = query.where(or_(condition, user_groups.c.name.in_(sorted(external_groups))))
    else:
        query = query.where(condition)
    groups = {r.group_id: r.name for r in conn.execute(query)}
    member = and_(workspace_members.c.grantee_kind == USER, workspace_members.c.grantee_id == account_id)
    if groups:
        member = or_(member, and_(workspace_members.c.grantee_kind == GROUP,
                                  workspace_members.c.grantee_id.in_(list(groups))))
    names = {r.workspace for r in conn.execute(select(workspace_members.c.workspace).where(member))}
    return frozenset(groups.values()), frozenset(names)


def workspace_in_use(conn: Connection, name: str) -> bool:
    from medflow.store.schema import experiments, registered_models
    for column in (experiments.c.workspace, registered_models.c.workspace, accounts.c.default_workspace):
        if conn.execute(select(column).where(column == name).limit(1)).first():
            return True
    return False


def delete_workspace(conn: Connection, name: str) -> None:
    conn.execute(delete(workspace_members).where(workspace_members.c.workspace == name))
    conn.execute(delete(workspaces).where(workspaces.c.name == name))
