"""medflow users | groups | tokens | workspaces | grants: manage accounts and access from the host.

Whoever runs these commands can open the database, so they act with full authority (as
`cli:<os user>` in the records). Passwords are prompted for, or read from standard input
with --password-stdin; they are never taken as command-line arguments (shell history).
"""
from __future__ import annotations

import functools
import getpass
import json
import sys

import click

from medflow.auth.config import AuthConfig
from medflow.auth.principal import ADMIN, ROLES, Principal
from medflow.auth.service import AuthServices
from medflow.cli.options import load_settings, store_options
from medflow.errors import MedflowError
from medflow.store import migrations
from medflow.store.engine import Database


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _cli_principal() -> Principal:
    return Principal(account_id=None, username=_actor(), display_name=_actor(), roles=frozenset({ADMIN}),
                     groups=frozenset(), workspaces=frozenset(), default_workspace="default", auth_method="basic")


def with_auth(fn):
    """Open the store named by --data-dir/--backend-store-uri (creating a fresh one) and pass AuthServices."""
    @store_options
    @functools.wraps(fn)
    def command(data_dir, backend_store_uri, **kwargs):
        settings = load_settings(data_dir=data_dir, backend_store_uri=backend_store_uri)
        try:
            db = Database(settings.backend_store_uri)
            try:
                migrations.prepare_for_serving(db)
                return fn(AuthServices(db, AuthConfig.from_settings(settings)), **kwargs)
            finally:
                db.dispose()
        except MedflowError as exc:
            raise click.ClickException(exc.message) from None
    return command


def _read_password(password_stdin: bool, prompt: str = "Password") -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


def _echo_json(value) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


def _roles(value: str) -> list[str]:
    return [r for r in value.replace(",", " ").split() if r]


# --- users -------------------------------------------------------------------------------------

@click.group()
def users() -> None:
    """Accounts: create, list, roles, lock/unlock, passwords, deactivate (never deleted)."""


@users.command("create-admin")
@click.argument("username")
@click.option("--display-name", default="", help="Full name, as signatures and the audit trail show it.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
@with_auth
def create_admin(auth, username, display_name, password_stdin) -> None:
    """Create an admin account (the first one on a fresh install: MedFlow has no default password)."""
    user = auth.accounts.create_admin(username, _read_password(password_stdin), actor=_actor(),
                                      display_name=display_name)
    click.echo(f"created admin '{user['username']}' (id {user['id']})")


@users.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES), help="A role (repeat for several).")
@click.option("--display-name", default="")
@click.option("--workspace", default=None, help="Default workspace (the account becomes a member with READ).")
@click.option("--service", is_flag=True, help="A service account (CI, pipelines): may never sign.")
@click.option("--no-password", is_flag=True, help="No password: SSO, proxy or API tokens only.")
@click.option("--password-stdin", is_flag=True)
@with_auth
def create_user(auth, username, roles, display_name, workspace, service, no_password, password_stdin) -> None:
    """Create an account."""
    password = None if no_password else _read_password(password_stdin)
    user = auth.accounts.create_user(username, password, actor=_actor(), display_name=display_name, roles=roles,
                                     kind="service" if service else "person", default_workspace=workspace)
    click.echo(f"created '{user['username']}' (id {user['id']}, roles: {', '.join(user.get('roles', [])) or 'none'})")


@users.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_auth
def list_users(auth, as_json) -> None:
    """List every account, deactivated ones included."""
    found = auth.accounts.list_users()
    if as_json:
        _echo_json(found)
        return
    for u in found:
        flags = [u["status"]] + (["LOCKED"] if u["locked"] else [])
        click.echo(f"{u['id']:>5}  {u['username']:<24} {','.join(u.get('roles', [])) or '-':<28} "
                   f"{u['default_workspace']:<16} {' '.join(flags)}")


@users.command("set-roles")
@click.argument("username")
@click.argument("roles", nargs=-1, required=True)
@with_auth
def set_roles(auth, username, roles) -> None:
    """Replace the roles of an account (viewer, data_scientist, reviewer, auditor, admin)."""
    user = auth.accounts.set_roles(username, [r for value in roles for r in _roles(value)])
    click.echo(f"'{username}' now has roles: {', '.join(user.get('roles', [])) or 'none'}")


@users.command("update")
@click.argument("username")
@click.option("--display-name", default=None)
@click.option("--workspace", default=None, help="New default workspace.")
@click.option("--break-glass-allowed/--no-break-glass-allowed", default=None,
              help="Whether the user may start an emergency elevation on their own.")
@with_auth
def update_user(auth, username, display_name, workspace, break_glass_allowed) -> None:
    """Change the display name, default workspace or break-glass permission of an account."""
    auth.accounts.update_profile(username, display_name=display_name, default_workspace=workspace,
                                 break_glass_allowed=break_glass_allowed)
    click.echo(f"updated '{username}'")


@users.command("lock")
@click.argument("username")
@click.option("--reason", default="locked by an admin")
@with_auth
def lock(auth, username, reason) -> None:
    """Lock an account: its passwords, tokens and sessions stop working at once."""
    auth.accounts.lock(username, reason)
    click.echo(f"locked '{username}'")


@users.command("unlock")
@click.argument("username")
@with_auth
def unlock(auth, username) -> None:
    """Unlock an account (after failed logins or a manual lock)."""
    auth.accounts.unlock(username)
    click.echo(f"unlocked '{username}'")


@users.command("reset-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True)
@with_auth
def reset_password(auth, username, password_stdin) -> None:
    """Set a new password for an account (and unlock it)."""
    auth.accounts.reset_password(username, _read_password(password_stdin, "New password"))
    click.echo(f"password of '{username}' changed")


@users.command("deactivate")
@click.argument("username")
@with_auth
def deactivate(auth, username) -> None:
    """Deactivate an account for good; its user name and id are never reused (Part 11)."""
    auth.accounts.deactivate(username)
    click.echo(f"deactivated '{username}' (its tokens are revoked)")


@users.command("reactivate")
@click.argument("username")
@with_auth
def reactivate(auth, username) -> None:
    """Reactivate a deactivated account (its old tokens stay revoked)."""
    auth.accounts.reactivate(username)
    click.echo(f"reactivated '{username}'")


@users.command("break-glass")
@click.argument("username")
@click.option("--reason", required=True, help="Why emergency access is needed (recorded, reviewed).")
@click.option("--minutes", type=int, default=None, help="Duration (default and maximum: the configured limit).")
@with_auth
def break_glass(auth, username, reason, minutes) -> None:
    """Start a time-limited emergency elevation for an account; it is flagged for review."""
    elevation = auth.break_glass.activate(_cli_principal(), username, reason, minutes)
    click.echo(f"break-glass {elevation['id']} active for '{username}' until {elevation['expiry_time']} (ms)")


@users.command("failures")
@click.option("--username", default=None)
@click.option("--limit", type=int, default=50)
@with_auth
def failures(auth, username, limit) -> None:
    """Show recent failed logins."""
    for f in auth.accounts.login_failures(username=username, limit=limit):
        click.echo(f"{f['time']}  {f['username']:<24} {f['auth_method']:<8} {f['client_addr']:<16} {f['reason']}")


# --- groups ------------------------------------------------------------------------------------

@click.group()
def groups() -> None:
    """Groups of accounts (clinical teams); identity-provider groups of the same name map onto them."""


@groups.command("create")
@click.argument("name")
@click.option("--description", default="")
@with_auth
def create_group(auth, name, description) -> None:
    group = auth.directory.create_group(name, description)
    click.echo(f"created group '{group['name']}'")


@groups.command("add-member")
@click.argument("group")
@click.argument("username")
@with_auth
def add_member(auth, group, username) -> None:
    auth.directory.add_group_member(group, username)
    click.echo(f"'{username}' is a member of '{group}'")


@groups.command("remove-member")
@click.argument("group")
@click.argument("username")
@with_auth
def remove_member(auth, group, username) -> None:
    auth.directory.remove_group_member(group, username)
    click.echo(f"'{username}' removed from '{group}'")


@groups.command("list")
@with_auth
def list_groups(auth) -> None:
    for g in auth.directory.list_groups():
        click.echo(f"{g['name']:<28} {', '.join(g.get('members', [])) or '-'}")


# --- tokens ------------------------------------------------------------------------------------

@click.group()
def tokens() -> None:
    """API tokens for the mlflow client (MLFLOW_TRACKING_TOKEN)."""


@tokens.command("create")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. 'ci-pipeline'.")
@click.option("--days", type=int, default=None, help="Lifetime in days (default: the configured default).")
@with_auth
def create_token(auth, username, name, days) -> None:
    """Create a token; the secret is printed this once and cannot be shown again."""
    secret, token = auth.accounts.create_token(username, name, days=days)
    click.echo(secret)
    click.echo(f"token {token['id']} for '{username}', expires at {token['expiry_time']} (ms). "
               "Store it now: it is not shown again. Use it as MLFLOW_TRACKING_TOKEN.", err=True)


@tokens.command("list")
@click.option("--username", default=None)
@click.option("--all", "include_inactive", is_flag=True, help="Include revoked and expired tokens.")
@with_auth
def list_tokens(auth, username, include_inactive) -> None:
    for t in auth.accounts.list_tokens(username, include_inactive=include_inactive):
        state = "revoked" if "revoked_time" in t else f"expires {t.get('expiry_time', '-')}"
        click.echo(f"{t['id']:>5}  {t['username']:<24} {t['name']:<24} {t['prefix']}...  {state}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
@with_auth
def revoke_token(auth, token_id) -> None:
    """Revoke a token: it fails on the very next request."""
    auth.accounts.revoke_token(token_id)
    click.echo(f"revoked token {token_id}")


# --- workspaces --------------------------------------------------------------------------------

@click.group()
def workspaces() -> None:
    """Workspaces (departments): every experiment and model belongs to one; members see only theirs."""


@workspaces.command("create")
@click.argument("name")
@click.option("--description", default="")
@with_auth
def create_workspace(auth, name, description) -> None:
    auth.directory.create_workspace(name, description)
    click.echo(f"created workspace '{name}'")


@workspaces.command("list")
@with_auth
def list_workspaces(auth) -> None:
    for w in auth.directory.list_workspaces():
        members = ", ".join(f"{m['kind']}:{m['name']}={m['permission']}" for m in w.get("members", []))
        click.echo(f"{w['name']:<20} {members or '-'}")


@workspaces.command("add-member")
@click.argument("workspace")
@click.argument("member")
@click.option("--group", "is_group", is_flag=True, help="MEMBER is a group, not a user.")
@click.option("--permission", type=click.Choice(["NONE", "READ", "EDIT", "MANAGE"]), default="READ",
              help="What membership grants on every resource of the workspace.")
@with_auth
def add_workspace_member(auth, workspace, member, is_group, permission) -> None:
    auth.directory.set_workspace_member(workspace, "group" if is_group else "user", member, permission)
    click.echo(f"{'group' if is_group else 'user'} '{member}' is a member of '{workspace}' with {permission}")


@workspaces.command("remove-member")
@click.argument("workspace")
@click.argument("member")
@click.option("--group", "is_group", is_flag=True)
@with_auth
def remove_workspace_member(auth, workspace, member, is_group) -> None:
    auth.directory.remove_workspace_member(workspace, "group" if is_group else "user", member)
    click.echo(f"'{member}' removed from '{workspace}'")


# --- grants ------------------------------------------------------------------------------------

_RESOURCE = click.Choice(["experiment", "registered_model"])


@click.group()
def grants() -> None:
    """Permissions on one experiment or registered model: READ, EDIT, MANAGE (and APPROVE for models)."""


@grants.command("grant")
@click.argument("resource_type", type=_RESOURCE)
@click.argument("resource")
@click.argument("member")
@click.argument("permission")
@click.option("--group", "is_group", is_flag=True, help="MEMBER is a group.")
@click.option("--workspace", default=None, help="Workspace of a registered model (default: 'default').")
@with_auth
def grant(auth, resource_type, resource, member, permission, is_group, workspace) -> None:
    """Grant PERMISSION on an experiment (by id) or registered model (by name) to a user or group."""
    auth.grants.grant(resource_type, resource, "group" if is_group else "user", member, permission,
                      actor=_actor(), workspace=workspace)
    click.echo(f"granted {permission.upper()} on {resource_type} '{resource}' to '{member}'")


@grants.command("revoke")
@click.argument("resource_type", type=_RESOURCE)
@click.argument("resource")
@click.argument("member")
@click.argument("permission", required=False)
@click.option("--group", "is_group", is_flag=True)
@click.option("--workspace", default=None)
@with_auth
def revoke(auth, resource_type, resource, member, permission, is_group, workspace) -> None:
    """Revoke one permission (or, without PERMISSION, all) of a user or group on a resource."""
    auth.grants.revoke(resource_type, resource, "group" if is_group else "user", member, permission,
                       workspace=workspace)
    click.echo(f"revoked on {resource_type} '{resource}' from '{member}'")


@grants.command("list")
@click.option("--resource-type", type=_RESOURCE, default=None)
@click.option("--resource", default=None)
@click.option("--workspace", default=None)
@with_auth
def list_grants(auth, resource_type, resource, workspace) -> None:
    if resource and not resource_type:
        raise click.UsageError("--resource needs --resource-type.")
    for g in auth.grants.list(resource_type, resource, workspace):
        click.echo(f"{g['resource_type']:<17} {g['resource_id']:>6}  {g['grantee_kind']}:{g['grantee']:<24} "
                   f"{g['permission']}")


COMMANDS = [users, groups, tokens, workspaces, grants]
