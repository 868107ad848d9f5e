"""medflow approvals: request review, sign (approve / reject), list, verify, history; check a policy.

These commands talk to a running MedFlow server over its API, as the person signing:
signatures are made by the server, never by whoever can open the database. The server is
MLFLOW_TRACKING_URI and the user MLFLOW_TRACKING_USERNAME, as for the mlflow client.
`approve` and `reject` always prompt for the password (21 CFR Part 11 §11.200: signing
requires re-entering it); other commands use MLFLOW_TRACKING_PASSWORD or
MLFLOW_TRACKING_TOKEN, or prompt. `policy validate FILE` works offline.
"""
from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

import click

from medflow.governance.policy import PolicyError, load_policy_file
from medflow.governance.signatures import MEANINGS

API = "/api/medflow/v1/approvals"


class Server:
    """The server named by the common options (their names are this constructor's parameters)."""

    def __init__(self, tracking_uri: str | None, username: str | None, workspace: str | None = None,
                 login_password: str | None = None, token: str | None = None):
        if not tracking_uri:
            raise click.UsageError("Name the server: --tracking-uri or MLFLOW_TRACKING_URI.")
        self.uri, self.username, self.password, self.token, self.workspace = (
            tracking_uri.rstrip("/"), username, login_password, token, workspace)

    def login_password(self) -> str:
        if self.password is None:
            self.password = click.prompt(f"Password for {self.username}", hide_input=True)
        return self.password

    def call(self, method: str, path: str, fields: dict, *, password: str | None = None) -> dict:
        headers = {"Accept": "application/json"}
        if self.workspace:
            headers["X-MLFLOW-WORKSPACE"] = self.workspace
        if password is not None or not self.token:
            if not self.username:
                raise click.UsageError("Name the user: --username or MLFLOW_TRACKING_USERNAME.")
            secret = password if password is not None else self.login_password()
            headers["Authorization"] = "Basic " + base64.b64encode(f"{self.username}:{secret}".encode()).decode()
        else:
            headers["Authorization"] = f"Bearer {self.token}"
        fields = {k: v for k, v in fields.items() if v is not None}
        url, data = self.uri + API + path, None
        if method == "GET":
            url += "?" + urllib.parse.urlencode(fields)
        else:
            data, headers["Content-Type"] = json.dumps(fields).encode(), "application/json"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, data, headers, method=method), timeout=300) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            try:
                body = json.loads(e.read() or b"{}")
            except ValueError:
                body = {}
            raise click.ClickException(f"{body.get('error_code', e.code)}: {body.get('message', e.reason)}") from None
        except urllib.error.URLError as e:
            raise click.ClickException(f"cannot reach {self.uri}: {e.reason}") from None


def _target(stage: str | None, alias: str | None) -> dict:
    if bool(stage) == bool(alias):
        raise click.UsageError("Give exactly one of --stage or --alias.")
    return {"stage": stage, "alias": alias}


def target_options(fn):
    fn = click.option("--alias", default=None, help="A protected alias, e.g. champion.")(fn)
    return click.option("--stage", default=None, help="A stage: Staging, Production or Archived.")(fn)


def server_options(fn):
    # Credentials come from the mlflow client's variables (never from arguments: shell history).
    fn = click.option("--login-password", envvar="MLFLOW_TRACKING_PASSWORD", default=None, hidden=True)(fn)
    fn = click.option("--token", envvar="MLFLOW_TRACKING_TOKEN", default=None, hidden=True)(fn)
    fn = click.option("--workspace", envvar="MLFLOW_WORKSPACE", default=None, help="Workspace (MLFLOW_WORKSPACE).")(fn)
    fn = click.option("--username", envvar="MLFLOW_TRACKING_USERNAME", default=None,
                      help="Your user name (MLFLOW_TRACKING_USERNAME).")(fn)
    fn = click.option("--tracking-uri", envvar="MLFLOW_TRACKING_URI", default=None,
                      help="The MedFlow server (MLFLOW_TRACKING_URI).")(fn)
    return fn


def _echo(value) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True))


@click.group()
def approvals() -> None:
    """Clinical approval gates: review requests, electronic signatures, verification, history."""


@approvals.command("request")
@click.argument("name")
@click.argument("version")
@target_options
@click.option("--comment", default=None, help="What reviewers should look at.")
@server_options
def request_review(name, version, stage, alias, comment, **server) -> None:
    """Ask for review of model NAME version VERSION for a stage or protected alias."""
    result = Server(**server).call("POST", "/request", {"name": name, "version": version, "comment": comment,
                                                        **_target(stage, alias)})
    request = result["review_request"]
    click.echo(f"review request {request['id']} open: {name} version {version} -> {request['target']}")


def _sign(verb: str, name, version, stage, alias, comment, meaning, password_stdin, options: dict) -> None:
    # Signing never uses a stored password or a token: the password is entered now.
    server = Server(options["tracking_uri"], options["username"], options["workspace"])
    target = _target(stage, alias)
    if not server.username:
        raise click.UsageError("Name the user: --username or MLFLOW_TRACKING_USERNAME.")
    click.echo(f"You are signing, as {server.username}: {verb} of {name} version {version} for "
               f"{stage or 'alias ' + alias}, meaning: {meaning}.", err=True)
    click.echo("Your electronic signature is the legally binding equivalent of your handwritten signature.", err=True)
    password = (sys.stdin.readline().rstrip("\r\n") if password_stdin
                else click.prompt("Password (to sign)", hide_input=True))
    result = server.call("POST", f"/{'approve' if verb == 'approval' else 'reject'}",
                         {"name": name, "version": version, "comment": comment, "meaning": meaning,
                          "password": password, **target}, password=password)
    signature = result["signature"]
    click.echo(signature["manifestation"])
    click.echo(f"signature {signature['id']} covers content {signature['content_hash']}")


@approvals.command()
@click.argument("name")
@click.argument("version")
@target_options
@click.option("--comment", default=None, help="Your review comment.")
@click.option("--meaning", type=click.Choice(MEANINGS), default="approval", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
@server_options
def approve(name, version, stage, alias, comment, meaning, password_stdin, **server) -> None:
    """Approve model NAME version VERSION with your electronic signature (prompts for your password)."""
    _sign("approval", name, version, stage, alias, comment, meaning, password_stdin, server)


@approvals.command()
@click.argument("name")
@click.argument("version")
@target_options
@click.option("--comment", required=True, help="Why: the author will act on it.")
@click.option("--meaning", type=click.Choice(MEANINGS), default="review", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of a prompt.")
@server_options
def reject(name, version, stage, alias, comment, meaning, password_stdin, **server) -> None:
    """Reject model NAME version VERSION with your electronic signature; closes the review request."""
    _sign("rejection", name, version, stage, alias, comment, meaning, password_stdin, server)


@approvals.command("list")
@click.argument("name")
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Print the server's answer as JSON.")
@server_options
def list_approvals(name, version, as_json, **server) -> None:
    """Review requests, signatures and what each governed target still needs."""
    result = Server(**server).call("GET", "/list", {"name": name, "version": version})
    if as_json:
        _echo(result)
        return
    for target in result.get("targets", []):
        state = "allowed" if target["allowed"] else "needs: " + "; ".join(target["missing"])
        click.echo(f"{target['target_kind']} {target['target']}: {state}")
    for request in result.get("review_requests", []):
        click.echo(f"review request {request['id']} -> {request['target']}: {request['status']} "
                   f"(requested by {request['requested_by']})")
    for s in result.get("signatures", []):
        click.echo(f"  [{s['id']}] {s['manifestation']}" + ("" if s["valid"] else f"  INVALID: {s['problem']}"))


@approvals.command()
@click.argument("name")
@click.argument("version")
@server_options
def verify(name, version, **server) -> None:
    """Check every signature of a version against its content now; exit 1 if any fails."""
    result = Server(**server).call("GET", "/verify", {"name": name, "version": version})
    for s in result.get("signatures", []):
        click.echo(f"[{s['id']}] {'valid' if s['valid'] else 'INVALID'}: {s['manifestation']}"
                   + ("" if s["valid"] else f" - {s['problem']}"))
    click.echo(f"content {result['content_hash']}: "
               + ("all signatures verify" if result["all_valid"] else "some signatures do not verify"))
    if not result["all_valid"]:
        sys.exit(1)


@approvals.command()
@click.argument("name")
@click.argument("version", required=False)
@server_options
def history(name, version, **server) -> None:
    """Stage and alias history of a model (or one version), with times and actors."""
    result = Server(**server).call("GET", "/history", {"name": name, "version": version})
    _echo(result.get("history", []))


@approvals.group()
def policy() -> None:
    """The governance policy file."""


@policy.command()
@click.argument("file", type=click.Path(dir_okay=False))
def validate(file) -> None:
    """Check a policy file (offline); exit 1 with the first error."""
    try:
        loaded = load_policy_file(file)
    except PolicyError as e:
        click.echo(f"invalid: {e}", err=True)
        sys.exit(1)
    click.echo(f"valid: {len(loaded.rules)} rule(s), sha256 {loaded.sha256}")


@policy.command()
@server_options
def show(**server) -> None:
    """The policy the server runs with, its recorded versions, and any reload problem."""
    _echo(Server(**server).call("GET", "/policy", {}))
