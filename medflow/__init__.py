"""MedFlow: an MLflow-compatible ML lifecycle server for healthcare teams."""

__version__ = "0.1.0"
