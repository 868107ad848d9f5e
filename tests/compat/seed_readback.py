"""Read back what the seed scripts a -> b -> c stored, through the official client only.

Works with mlflow 2.12.1 and 3.x. test_seed_examples.py imports `read_back` for the 3.x client
(in process) and runs this file with .venv-mlflow2's python for the 2.12.1 client:

    python seed_readback.py <tracking uri>    # prints the state as one JSON line
"""
import json
import sys
import tempfile
from pathlib import Path

from mlflow import MlflowClient

EXPERIMENT_NAME = "sepsis-early-warning-system"
MODEL_NAME = "sepsis-early-warning"
ALIAS = "champion"


def read_back(tracking_uri: str) -> dict:
    client = MlflowClient(tracking_uri=tracking_uri)
    exp = client.get_experiment_by_name(EXPERIMENT_NAME)
    runs = client.search_runs([exp.experiment_id], order_by=["attributes.start_time ASC"])
    run = runs[0]
    run_id = run.info.run_id
    with tempfile.TemporaryDirectory() as dst:
        csv_text = Path(client.download_artifacts(run_id, "confusion_matrix.csv", dst)).read_text()
    # search results may leave out aliases (documented), so each version is read with get
    versions = [client.get_model_version(MODEL_NAME, mv.version)
                for mv in client.search_model_versions(f"name = '{MODEL_NAME}'")]
    registered = client.get_registered_model(MODEL_NAME)
    return {
        "run_count": len(runs),
        "run": {
            "run_id": run_id,
            "run_name": run.info.run_name,
            "status": run.info.status,
            "params": run.data.params,
            "metrics": run.data.metrics,
            "metric_history_lengths": {k: len(client.get_metric_history(run_id, k))
                                       for k in run.data.metrics},
            "tags": run.data.tags,
            "artifacts": sorted(f.path for f in client.list_artifacts(run_id)),
            "confusion_matrix_csv": csv_text,
        },
        "versions": {
            mv.version: {"current_stage": mv.current_stage, "run_id": mv.run_id,
                         "source": mv.source, "description": mv.description, "tags": mv.tags,
                         "aliases": list(getattr(mv, "aliases", []) or [])}
            for mv in versions
        },
        "latest_production": [mv.version for mv in
                              client.get_latest_versions(MODEL_NAME, stages=["Production"])],
        "registered_model_aliases": dict(registered.aliases),
        "alias_version": client.get_model_version_by_alias(MODEL_NAME, ALIAS).version,
    }


if __name__ == "__main__":
    print(json.dumps(read_back(sys.argv[1])))
