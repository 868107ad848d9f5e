"""What each department holds, and the searches that list it (for the search tests of test_role_matrix.py)."""
from __future__ import annotations

from tests.auth.role_matrix_world import Dept, Http


def held_by(dept: Dept, admin: Http) -> dict[str, set]:
    """What the department holds, as the admin sees it."""
    ws = dept.workspace
    experiments = admin.ok("POST", "/2.0/mlflow/experiments/search", json={"max_results": 1000},
                           workspace=ws).get("experiments", [])
    ids = [e["experiment_id"] for e in experiments]
    runs = admin.ok("POST", "/2.0/mlflow/runs/search", json={"experiment_ids": ids, "max_results": 5000})
    models = admin.ok("POST", "/2.0/mlflow/logged-models/search", json={"experiment_ids": ids})
    registered = admin.ok("GET", "/2.0/mlflow/registered-models/search", params={"max_results": 1000},
                          workspace=ws).get("registered_models", [])
    versions = admin.ok("GET", "/2.0/mlflow/model-versions/search", workspace=ws).get("model_versions", [])
    return {"experiments": set(ids), "runs": {r["info"]["run_id"] for r in runs.get("runs", [])},
            "logged_models": {m["info"]["model_id"] for m in models.get("models", [])},
            "registered_models": {m["name"] for m in registered},
            "versions": {(v["name"], v["version"], v.get("run_id")) for v in versions}}


# The raw searches a department's objects are listed by: kind -> (method, path, body or query,
# the answer's field, what identifies an item).
SEARCHES = {
    "experiments": ("POST", "/2.0/mlflow/experiments/search", {"max_results": 1000}, "experiments",
                    lambda e: e["experiment_id"]),
    "registered_models": ("GET", "/2.0/mlflow/registered-models/search", {"max_results": 1000}, "registered_models",
                          lambda m: m["name"]),
    "versions": ("GET", "/2.0/mlflow/model-versions/search", {}, "model_versions",
                 lambda v: (v["name"], v["version"], v.get("run_id"))),
}
