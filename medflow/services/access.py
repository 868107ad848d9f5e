"""Who is asking, in which workspace, and may they: the authorization step of every request.

The endpoint layer calls `Access.authorize()` with the route and the request's fields
before the endpoint runs. The route's rule (medflow/auth/route_actions.py) names the
action and where the request names its resource; the resource is resolved to its
experiment or registered model and workspace, then medflow/auth/permissions.py decides.

Three rules keep a caller from learning what exists outside its workspaces:
- the role check comes first and depends on the roles alone (a viewer asking to delete
  anything is refused the same way, whether or not the thing exists);
- a resource in another workspace is answered with the very error the endpoint gives for a
  missing one (same code, same message);
- where an endpoint skips missing ids (searches), another workspace's ids are skipped too.
Deny by default: a route without a rule is refused.

Services read the acting principal and workspace with `current_principal()` and
`current_workspace()` (context variables set per request), e.g. to grant the creator
MANAGE inside the create transaction and to filter searches.

Two caches keep authorization off the database for the common case (a training loop
logging to one run): which experiment and workspace a run, logged model or experiment
belongs to never changes, so found owners are kept; grants, and which model a registered-model
name means, are kept under the auth generation the request was authenticated at, which every
grant, membership change, model rename and model delete bumps — a revocation is seen on the
next request, on every server.
"""
from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import select

from medflow.artifacts import paths
from medflow.auth.authenticate import request_workspace
from medflow.auth.cache import ExpiringCache
from medflow.auth.permissions import ACTIONS, GLOBAL, ResourceRef, authorize, authorize_role
from medflow.auth.principal import Principal
from medflow.auth.route_actions import RouteRule, rule_for
from medflow.errors import PERMISSION_DENIED, UNAUTHENTICATED, MedflowError
from medflow.store.accounts_grants import grants_for, readable_clause, resolve_resource
from medflow.store.schema import experiments, logged_models, runs

DEFAULT_WORKSPACE = "default"
DEFAULT_EXPERIMENT_ID = "0"  # runs/create without experiment_id logs to the Default experiment, as in MLflow
MAX_EXPERIMENT_ID = 2**31 - 1  # experiments.experiment_id is a 32-bit integer: larger ids name nothing
# Ids that name nothing: a search given one finds nothing, exactly as for any missing id.
NO_SUCH_ID = {"experiment": str(MAX_EXPERIMENT_ID), "run": "0" * 32, "logged_model": "m-" + "0" * 32}
ARTIFACT_ROOT = "mlflow-artifacts:/"
CACHE_SECONDS = 3600

_principal: ContextVar[Principal | None] = ContextVar("medflow_access_principal", default=None)
_workspace: ContextVar[str] = ContextVar("medflow_access_workspace", default=DEFAULT_WORKSPACE)


def current_principal() -> Principal | None:
    """The authenticated principal of this request; None when authentication is off."""
    return _principal.get()


def current_workspace() -> str:
    return _workspace.get()


def readable(resource_type: str, id_column, workspace_column):
    """WHERE clause for searches: rows of the request's workspace the principal may read."""
    clause = workspace_column == _workspace.get()
    principal = _principal.get()
    if principal is not None:
        clause = clause & readable_clause(principal, resource_type, id_column, workspace_column)
    return clause


@dataclass(frozen=True)
class Named:
    """A resource as the request names it, and what the endpoint answers when it does not exist."""
    field: str                # where the request names it (a field or path parameter)
    key: str                  # the id as the request gives it
    ref: ResourceRef | None   # None: no such resource
    missing: str              # the endpoint's "does not exist" message for this key
    kind: str = "experiment"  # experiment | run | logged_model | registered_model | artifact


def _values(value) -> list:
    """A field that may repeat: a JSON list, repeated query values, or one value (never its characters)."""
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _scalar(value):
    values = _values(value)
    return values[0] if values else None


def _experiment_missing(key) -> str:
    text = str(key)
    shown = int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else text[:80]
    return f"No Experiment with id={shown} exists"  # as services/validation.py and store/experiments.py say


def _is_experiment_id(key) -> bool:
    """Whether `key` can name an experiment (decimal digits within the id column's range)."""
    text = str(key)
    return text.isascii() and text.isdigit() and len(text) <= 10 and int(text) <= MAX_EXPERIMENT_ID


class _LazyRead:
    """A read connection opened on first use: an authorization answered from the caches
    touches no database."""

    def __init__(self, db=None, conn=None):
        self._db, self._conn, self._scope = db, conn, None

    @property
    def conn(self):
        if self._conn is None:
            self._scope = self._db.read()
            self._conn = self._scope.__enter__()
        return self._conn

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._scope is not None:
            self._scope.__exit__(*exc)


class Access:
    def __init__(self, services):
        self.db = services.db
        self.enabled = services.settings.auth_enabled
        self._owners = ExpiringCache(100_000)  # ("run", id) -> (experiment_id, workspace); immutable
        self._grants = ExpiringCache(100_000)  # (account, groups, ref) -> (generation, grants)
        self._model_refs = ExpiringCache(100_000)  # (workspace, name) -> (generation, ref); renames bump it

    def begin(self, principal: Principal | None, workspace_header: str | None) -> None:
        """Set this request's principal and workspace (call inside the request's context)."""
        _principal.set(principal)
        if principal is not None:
            _workspace.set(request_workspace(principal, workspace_header))
        elif workspace_header:
            _workspace.set(workspace_header.strip() or DEFAULT_WORKSPACE)

    def authorize(self, method: str, path: str, fields: dict, path_params: dict) -> None:
        """Refuse the request unless its principal may do the route's action on what it names.

        On searches that skip missing ids, another workspace's ids in `fields` are replaced by
        ids that name nothing (the endpoint then answers as for a missing id).
        """
        if not self.enabled:
            return
        rule = rule_for(method, path)
        if rule is None:
            raise MedflowError(PERMISSION_DENIED, f"Permission denied: {method} {path} has no access rule, "
                                                  "and MedFlow denies what it has no rule for.")
        if rule.action is None:
            return  # public route
        principal = _principal.get()
        if principal is None:
            raise MedflowError(UNAUTHENTICATED, "No authenticated user for this request.")
        authorize_role(principal, rule.action)
        spec = ACTIONS[rule.action]
        if spec.resource == GLOBAL or rule.locator in ("none", "filter"):
            return  # roles only; searches filter their results with readable()
        if rule.locator == "workspace":
            workspace = _workspace.get()  # begin() already refused a workspace the principal is not in
            authorize(principal, rule.action, ResourceRef("workspace", workspace, workspace))
            return
        if rule.locator == "workspace_name":
            name = path_params.get("workspace_name", "")
            authorize(principal, rule.action, ResourceRef("workspace", name, name),
                      not_found_message=f"Workspace '{name}' not found.")
            return
        with _LazyRead(self.db) as reader:
            named = self._resolve(reader, rule, fields, path_params)
            grants = self._grants_for(reader, principal, list({n.ref for n in named if n.ref is not None}))
        for n in named:
            if n.ref is None:
                if n.kind == "artifact" and not principal.is_admin:
                    raise MedflowError.not_found(n.missing)  # a path no experiment owns is nobody's to use
                continue  # nothing to protect: the endpoint answers "does not exist" itself
            if rule.skips_missing and not principal.in_workspace(n.ref.workspace):
                _replace(fields, n.field, n.key, NO_SUCH_ID[n.kind])
                continue
            authorize(principal, rule.action, n.ref, grants.get(n.ref, []), not_found_message=n.missing)

    def require(self, conn, action: str, *, run_id: str | None = None, model_id: str | None = None,
                missing: MedflowError | None = None) -> None:
        """A check a service makes inside its transaction on a second resource the request names
        (e.g. run-read on the run a model version is registered from). `missing` is the error the
        service raises for a missing one; another workspace's resource gets exactly that."""
        principal = _principal.get()
        if not self.enabled or principal is None:
            return
        authorize_role(principal, action)
        reader = _LazyRead(conn=conn)
        named = []
        if run_id:
            named += self._runs(reader, "run_id", [run_id])
        if model_id:
            named += self._logged_models(reader, "model_id", [model_id])
        for n in named:
            if n.ref is None:
                continue
            if missing is not None and not principal.in_workspace(n.ref.workspace):
                raise missing
            authorize(principal, action, n.ref, self._grants_for(reader, principal, [n.ref])[n.ref],
                      not_found_message=n.missing)

    def _grants_for(self, reader: _LazyRead, principal: Principal, refs: list[ResourceRef]) -> dict:
        """grants_for(), from the cache where it holds the grants of this auth generation."""
        out, wanted = {}, []
        for ref in refs:
            hit = self._grants.get((principal.account_id, principal.groups, ref))
            if hit is not None and hit[0] == principal.generation:
                out[ref] = hit[1]
            else:
                wanted.append(ref)
        if wanted:
            # Read after the generation was: stored under it, they are at least that current.
            for ref, grants in grants_for(reader.conn, principal, wanted).items():
                self._grants.put((principal.account_id, principal.groups, ref), (principal.generation, grants),
                                 CACHE_SECONDS)
                out[ref] = grants
        return out

    # --- where the request names its resource --------------------------------------------------
    def _resolve(self, reader: _LazyRead, rule: RouteRule, fields: dict, path_params: dict) -> list[Named]:
        locator = rule.locator
        if locator == "experiment_id":
            key = _scalar(fields.get("experiment_id"))
            if key is None and rule.action == "run-create":
                key = DEFAULT_EXPERIMENT_ID
            return self._experiments(reader, "experiment_id", [] if key is None else [key])
        if locator == "experiment_ids":
            return self._experiments(reader, "experiment_ids", _values(fields.get("experiment_ids")))
        if locator == "experiment_name":
            name = _scalar(fields.get("experiment_name"))
            row = reader.conn.execute(select(experiments.c.experiment_id).where(
                experiments.c.name == str(name or ""), experiments.c.workspace == _workspace.get())).first()
            return self._experiments(reader, "experiment_id", [str(row.experiment_id)]) if row else []
        if locator == "run_id":
            field = "run_id" if _scalar(fields.get("run_id")) else "run_uuid"
            key = _scalar(fields.get(field))
            return self._runs(reader, field, [] if key is None else [key])
        if locator == "run_ids":
            field = "run_ids" if "run_ids" in fields else "run_id"  # get-history-bulk repeats run_id
            return self._runs(reader, field, _values(fields.get(field)))
        if locator == "model_id":
            field = "model_id"
            key = path_params.get("model_id") or _scalar(fields.get("model_id"))
            return self._logged_models(reader, field, [] if key is None else [key])
        if locator == "name":
            name = str(_scalar(fields.get("name")) or "")
            ref = self._model_ref(reader, name) if name else None
            return [Named("name", name, ref, f"Registered Model with name={name} not found", "registered_model")]
        if locator == "artifact_path":
            raw = path_params.get("artifact_path")
            return self._artifact_owners(reader.conn, _scalar(fields.get("path")) if raw is None else raw)
        raise MedflowError(PERMISSION_DENIED, f"Permission denied: unknown resource locator '{locator}'.")

    def _model_ref(self, reader: _LazyRead, name: str) -> ResourceRef | None:
        """The registered model a name means. A name can move (rename, delete and re-create), so a
        found model is kept only under the auth generation it was read at: renames and deletes bump it."""
        key, generation = (_workspace.get(), name), _principal.get().generation
        hit = self._model_refs.get(key)
        if hit is not None and hit[0] == generation:
            return hit[1]
        ref = resolve_resource(reader.conn, "registered_model", name, key[0])
        if ref is not None:
            self._model_refs.put(key, (generation, ref), CACHE_SECONDS)
        return ref

    def _experiments(self, reader: _LazyRead, field: str, keys: list) -> list[Named]:
        ids = {int(k) for k in keys if _is_experiment_id(k)}
        found = self._cached_owners("experiment", ids)
        wanted = sorted(ids - found.keys())
        if wanted:
            rows = {r.experiment_id: r.workspace for r in reader.conn.execute(
                select(experiments.c.experiment_id, experiments.c.workspace)
                .where(experiments.c.experiment_id.in_(wanted)))}
            found.update(self._keep_owners("experiment", rows))
        out = []
        for key in keys:
            number = int(key) if _is_experiment_id(key) else None
            ref = ResourceRef("experiment", str(number), found[number]) if number in found else None
            out.append(Named(field, str(key), ref, _experiment_missing(key)))
        return out

    def _runs(self, reader: _LazyRead, field: str, keys: list) -> list[Named]:
        """Runs, set-based: each run id -> its experiment (what run permissions follow)."""
        return self._in_experiments(reader, field, keys, runs.c.run_uuid, runs.c.experiment_id,
                                    lambda key: f"Run with id={key} not found", "run")

    def _logged_models(self, reader: _LazyRead, field: str, keys: list) -> list[Named]:
        return self._in_experiments(reader, field, keys, logged_models.c.model_id, logged_models.c.experiment_id,
                                    lambda key: f"Logged model with ID '{key}' not found.", "logged_model")

    def _in_experiments(self, reader: _LazyRead, field: str, keys: list, id_column, experiment_column, missing,
                        kind) -> list[Named]:
        """Objects that live in an experiment (runs, logged models), looked up in one query."""
        keys_text = {str(k) for k in keys}
        found = self._cached_owners(kind, keys_text)
        wanted = sorted(keys_text - found.keys())
        if wanted:
            rows = {r[0]: (r.experiment_id, r.workspace) for r in reader.conn.execute(
                select(id_column, experiments.c.experiment_id, experiments.c.workspace)
                .join(experiments, experiments.c.experiment_id == experiment_column)
                .where(id_column.in_(wanted)))}
            found.update(self._keep_owners(kind, rows))
        out = []
        for key in keys:
            hit = found.get(str(key))
            ref = ResourceRef("experiment", str(hit[0]), hit[1]) if hit else None
            out.append(Named(field, str(key), ref, missing(key), kind))
        return out

    def _cached_owners(self, kind: str, keys) -> dict:
        found = {}
        for key in keys:
            owner = self._owners.get((kind, key))
            if owner is not None:
                found[key] = owner
        return found

    def _keep_owners(self, kind: str, rows: dict) -> dict:
        """Remember found owners: what a run, logged model or experiment belongs to never changes."""
        for key, owner in rows.items():
            self._owners.put((kind, key), owner, CACHE_SECONDS)
        return rows

    @staticmethod
    def _artifact_owners(conn, raw: str | None) -> list[Named]:
        """The experiments whose artifact location holds the path: every experiment whose location
        is a prefix of it must allow the action (a location nested in another's gains nothing)."""
        path = paths.store_path(raw)  # the path the store will use (percent-decoding, '.' segments)
        segments = path.split("/") if path else []
        candidates = [ARTIFACT_ROOT + "/".join(segments[:i]) for i in range(1, len(segments) + 1)]
        rows = conn.execute(select(experiments.c.experiment_id, experiments.c.workspace)
                            .where(experiments.c.artifact_location.in_(candidates))).all() if candidates else []
        missing = f"No such artifact: '{path}'"
        if not rows:
            return [Named("artifact_path", path, None, missing, "artifact")]
        return [Named("artifact_path", path, ResourceRef("experiment", str(r.experiment_id), r.workspace),
                      missing, "artifact") for r in rows]


def _replace(fields: dict, field: str, key: str, stand_in: str) -> None:
    """Swap one id of a repeated field for an id that names nothing (the search then skips it)."""
    value = fields.get(field)
    if isinstance(value, list):
        fields[field] = [stand_in if str(v) == key else v for v in value]
    elif value is not None and str(value) == key:
        fields[field] = stand_in
