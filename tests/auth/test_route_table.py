"""Every route MedFlow serves has an entry in the route -> action table, and every entry names a
known action with a locator that fits it. A new route without an entry fails here (and is denied
at run time): MedFlow never ships a route open by omission, unlike MLflow's validator tables."""
from __future__ import annotations

from medflow.api.mlflow import routes as mlflow_routes
from medflow.api.v1 import routes as v1_routes
from medflow.auth.permissions import ACTIONS, EXPERIMENT, GLOBAL, REGISTERED_MODEL, WORKSPACE
from medflow.auth.route_actions import ROUTE_ACTIONS, rule_for

LOCATORS = {
    GLOBAL: {"none", "filter"},
    WORKSPACE: {"workspace", "filter", "workspace_name"},
    EXPERIMENT: {"experiment_id", "experiment_name", "experiment_ids", "run_id", "run_ids", "model_id",
                 "artifact_path"},
    REGISTERED_MODEL: {"name", "filter"},
}


def served_routes():
    endpoints = [*mlflow_routes.ROUTES, *mlflow_routes.TOP_LEVEL_ROUTES,
                 *getattr(mlflow_routes, "MEDFLOW_ROUTES", []), *v1_routes.ROUTES, *v1_routes.MLFLOW_WORKSPACE_ROUTES]
    return sorted({(e.method, e.path) for e in endpoints})


def test_every_served_route_has_a_rule():
    missing = [f"{method} {path}" for method, path in served_routes() if rule_for(method, path) is None]
    assert not missing, "routes without an entry in medflow/auth/route_actions.py:\n" + "\n".join(missing)


def test_every_rule_names_a_known_action_and_a_fitting_locator():
    for (method, path), rule in ROUTE_ACTIONS.items():
        if rule.action is None:
            continue
        spec = ACTIONS.get(rule.action)
        assert spec is not None, f"{method} {path}: unknown action {rule.action}"
        assert rule.locator in LOCATORS[spec.resource], f"{method} {path}: {rule.locator} for {spec.resource}"


def test_only_probes_and_credential_bootstraps_are_public():
    public = sorted(path for (method, path), rule in ROUTE_ACTIONS.items() if rule.action is None)
    assert public == ["/health", "/medflow/v1/bootstrap", "/medflow/v1/users/change-password", "/version"]


def test_path_parameter_names_do_not_matter():
    assert rule_for("GET", "/2.0/mlflow/logged-models/{id}").action == "logged-model-read"
    assert rule_for("PUT", "/2.0/mlflow-artifacts/artifacts/{artifact_path:path}").action == "artifact-write"
    assert rule_for("GET", "/2.0/mlflow/webhooks") is None


def test_browser_sign_on_routes_are_public_and_check_themselves():
    from medflow.api.browser_auth import BROWSER_AUTH_ROUTES
    from medflow.auth.middleware import BROWSER_SIGN_ON_PATHS, PUBLIC_PATHS
    assert {path for _, path in BROWSER_AUTH_ROUTES} == BROWSER_SIGN_ON_PATHS <= PUBLIC_PATHS
    assert not any(rule_for(method, path) for method, path in BROWSER_AUTH_ROUTES)
