"""HTTP surfaces: the MLflow REST API (api/mlflow) and MedFlow's own API."""
