"""MedFlow benchmark harness: MedFlow vs the MLflow server vs FastTrackML, same run, same workload.

Run with ``python -m bench.run --help``. Nothing here is a test: pytest never collects it.
"""
