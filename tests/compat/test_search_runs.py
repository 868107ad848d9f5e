"""runs/search end to end: MLflow's filter grammar, ordering, view types and paging.

A small fixture experiment is logged through the official client; the paging test loads
12,000 runs straight into the server's database (the fastest honest way to get past 10,000)
and pages through them with the client, checking every run is seen exactly once, in order.
"""
from __future__ import annotations

import math
import time
import uuid

import mlflow
import pandas as pd
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy import insert

from medflow.store.engine import Database
from medflow.store.schema import latest_metrics, runs, tags

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def server(medflow_server):
    return medflow_server


@pytest.fixture(scope="module")
def client(server) -> MlflowClient:
    return MlflowClient(tracking_uri=server.url)


# name: (metrics, params, tags, status, dataset context or None)
FIXTURE_RUNS = {
    "alpha": ({"auc": 0.91, "loss": 0.2}, {"model": "gbm", "lr": "0.1"}, {"cohort": "adult", "team": "ICU"},
              "FINISHED", "training"),
    "beta": ({"auc": 0.85}, {"model": "gbm", "lr": "0.05"}, {"cohort": "pediatric"}, "FINISHED", "eval"),
    "gamma": ({"auc": math.nan}, {"model": "lr"}, {"cohort": "adult", "mlflow.note": "x"}, "FAILED", None),
    "delta": ({"auc": 0.70, "loss": 0.9}, {"model": "rf", "lr": "0.1"}, {}, "RUNNING", None),
    "epsilon": ({}, {"model": "GBM-large"}, {"team": "icu"}, "FINISHED", "training"),
}


@pytest.fixture(scope="module")
def fixture_runs(client, server):
    """{name: run_id} for FIXTURE_RUNS in a fresh experiment; start times 1000, 2000, ..."""
    experiment_id = client.create_experiment("search-compat")
    mlflow.set_tracking_uri(server.url)
    mlflow.set_experiment(experiment_id=experiment_id)  # fluent state may be left by other modules
    ids = {}
    for i, (name, (metrics, params, run_tags, status, context)) in enumerate(FIXTURE_RUNS.items()):
        run = client.create_run(experiment_id, run_name=name, start_time=1000 * (i + 1))
        run_id = run.info.run_id
        for key, value in metrics.items():
            client.log_metric(run_id, key, value, timestamp=1, step=0)
        for key, value in params.items():
            client.log_param(run_id, key, value)
        for key, value in run_tags.items():
            client.set_tag(run_id, key, value)
        if context:
            dataset = mlflow.data.from_pandas(pd.DataFrame({"x": [i]}), name=f"ds-{context}")
            with mlflow.start_run(run_id=run_id):
                mlflow.log_input(dataset, context=context)
        client.set_terminated(run_id, status, end_time=1000 * (i + 1) + 500)
        ids[name] = run_id
    return experiment_id, ids


def names(client, fixture_runs, filter_string="", order_by=None, view=None, max_results=1000):
    experiment_id, ids = fixture_runs
    by_id = {v: k for k, v in ids.items()}
    kwargs = {"run_view_type": view} if view else {}
    found = client.search_runs([experiment_id], filter_string, order_by=order_by or [],
                               max_results=max_results, **kwargs)
    return [by_id[r.info.run_id] for r in found]


@pytest.mark.parametrize("filter_string, expected", [
    ("", {"alpha", "beta", "gamma", "delta", "epsilon"}),
    ("metrics.auc > 0.8", {"alpha", "beta"}),
    ("metrics.auc >= 0.85", {"alpha", "beta"}),
    ("metrics.auc < 0.9", {"beta", "delta"}),
    ("metrics.auc = 0.7", {"delta"}),
    ("metrics.auc != 0.7", {"alpha", "beta", "gamma"}),  # NaN only satisfies !=
    ("metrics.auc > 0.8 and metrics.loss < 0.5", {"alpha"}),
    ("metrics.`loss` <= 0.9", {"alpha", "delta"}),
    ("params.model = 'gbm'", {"alpha", "beta"}),
    ("params.model != 'gbm'", {"gamma", "delta", "epsilon"}),
    ("params.model LIKE 'gb%'", {"alpha", "beta"}),
    ("params.model ILIKE 'gb%'", {"alpha", "beta", "epsilon"}),
    ("params.lr IS NULL", {"gamma", "epsilon"}),
    ("params.lr IS NOT NULL", {"alpha", "beta", "delta"}),
    ("params.lr = '0.1' and params.model = 'gbm'", {"alpha"}),
    ("tags.cohort = 'adult'", {"alpha", "gamma"}),
    ("tags.team ILIKE 'icu'", {"alpha", "epsilon"}),
    ("tags.team LIKE 'icu'", {"epsilon"}),
    ("tags.`mlflow.note` IS NOT NULL", {"gamma"}),
    ("tags.\"mlflow.runName\" = 'beta'", {"beta"}),
    ("tags.mlflow.runName = 'beta'", {"beta"}),
    ("attributes.run_name = 'delta'", {"delta"}),
    ("run_name LIKE '%lta'", {"delta"}),
    ("attributes.`Run name` = 'alpha'", {"alpha"}),
    ("attributes.status = 'FINISHED'", {"alpha", "beta", "epsilon"}),
    ("attributes.status != 'FINISHED'", {"gamma", "delta"}),
    ("attributes.start_time >= 3000", {"gamma", "delta", "epsilon"}),
    ("attributes.created < 2001", {"alpha", "beta"}),
    ("attributes.end_time > 4000", {"delta", "epsilon"}),
    ("attributes.user_id != 'nobody'", {"alpha", "beta", "gamma", "delta", "epsilon"}),
    ("attributes.artifact_uri LIKE '%/artifacts'", {"alpha", "beta", "gamma", "delta", "epsilon"}),
    ("datasets.name = 'ds-training'", {"alpha", "epsilon"}),
    ("datasets.context = 'eval'", {"beta"}),
    ("datasets.context IN ('eval', 'training')", {"alpha", "beta", "epsilon"}),
    ("datasets.name LIKE 'ds-%' and metrics.auc > 0.9", {"alpha"}),
])
def test_filters(client, fixture_runs, filter_string, expected):
    assert set(names(client, fixture_runs, filter_string)) == expected


def test_run_id_lists(client, fixture_runs):
    _, ids = fixture_runs
    wanted = f"('{ids['alpha']}', '{ids['gamma']}')"
    assert set(names(client, fixture_runs, f"attributes.run_id IN {wanted}")) == {"alpha", "gamma"}
    assert set(names(client, fixture_runs, f"run_id NOT IN {wanted}")) == {"beta", "delta", "epsilon"}
    assert set(names(client, fixture_runs, f"attributes.run_id = '{ids['beta']}'")) == {"beta"}


@pytest.mark.parametrize("order_by, expected", [
    ([], ["epsilon", "delta", "gamma", "beta", "alpha"]),  # start_time DESC
    (["metrics.auc DESC"], ["alpha", "beta", "delta", "gamma", "epsilon"]),  # NaN, then missing, last
    (["metrics.auc ASC"], ["delta", "beta", "alpha", "gamma", "epsilon"]),
    (["metrics.loss"], ["alpha", "delta", "epsilon", "gamma", "beta"]),  # missing: by start_time DESC
    (["params.lr DESC", "attributes.start_time ASC"], ["alpha", "delta", "beta", "gamma", "epsilon"]),
    (["tags.cohort ASC"], ["gamma", "alpha", "beta", "epsilon", "delta"]),  # ties: start_time DESC
    (["attributes.run_name DESC"], ["gamma", "epsilon", "delta", "beta", "alpha"]),
    (["attributes.status", "start_time ASC"], ["gamma", "alpha", "beta", "epsilon", "delta"]),
    (["attributes.end_time DESC"], ["epsilon", "delta", "gamma", "beta", "alpha"]),
])
def test_order_by(client, fixture_runs, order_by, expected):
    assert names(client, fixture_runs, order_by=order_by) == expected


def test_filter_and_order_on_the_same_metric(client, fixture_runs):
    assert names(client, fixture_runs, "metrics.auc != 0.85", ["metrics.auc DESC"]) == ["alpha", "delta", "gamma"]
    assert names(client, fixture_runs, "metrics.auc > 0", ["metrics.auc"], max_results=2) == ["delta", "beta"]


def test_view_types(client, fixture_runs):
    _, ids = fixture_runs
    client.delete_run(ids["beta"])
    try:
        active = set(names(client, fixture_runs))
        deleted = names(client, fixture_runs, view=mlflow.entities.ViewType.DELETED_ONLY)
        everything = set(names(client, fixture_runs, view=mlflow.entities.ViewType.ALL))
    finally:
        client.restore_run(ids["beta"])
    assert "beta" not in active and deleted == ["beta"] and everything == set(FIXTURE_RUNS)


def test_search_returns_full_run_documents(client, fixture_runs):
    experiment_id, ids = fixture_runs
    [run] = client.search_runs([experiment_id], "attributes.run_name = 'alpha'")
    assert run.data.metrics == {"auc": 0.91, "loss": 0.2}
    assert run.data.params == {"model": "gbm", "lr": "0.1"}
    assert run.data.tags["cohort"] == "adult" and run.data.tags["mlflow.runName"] == "alpha"
    assert [i.dataset.name for i in run.inputs.dataset_inputs] == ["ds-training"]
    frame = mlflow.search_runs([experiment_id], order_by=["metrics.auc DESC"])
    assert list(frame["tags.mlflow.runName"])[:2] == ["alpha", "beta"]


@pytest.mark.parametrize("body, fragment", [
    ({"filter": "metrics.auc >>> 1"}, "Invalid comparator '>>>'"),
    ({"filter": "metrics.auc = 'high'"}, "Expected numeric value type for metric"),
    ({"filter": "params.lr = 0.1"}, "Expected a quoted string value for parameter"),
    ({"filter": "metrics.auc IS NULL"}, "only supported for tags and params"),
    ({"filter": "metrics.auc LIKE '1%'"}, "Invalid comparator 'LIKE'"),
    ({"filter": "params.lr IN ('0.1')"}, "Invalid comparator 'IN'"),
    ({"filter": "attributes.status IN ('FINISHED')"}, "Only ['run_id'] attributes support"),
    ({"filter": "attributes.lifecycle_stage = 'active'"}, "Invalid attribute key 'lifecycle_stage'"),
    ({"filter": "attributes.start_time > '5'"}, "Expected numeric value type for numeric attribute"),
    ({"filter": "datasets.size = '1'"}, "Invalid dataset key 'size'"),
    ({"filter": "metrics.auc > 1 or metrics.auc < 0"}, "AND"),
    ({"order_by": ["metrics.auc", "metrics.auc DESC"]}, "duplicate fields"),
    ({"order_by": ["datasets.name"]}, "order_by"),
    ({"order_by": ["attributes.bogus"]}, "Invalid attribute key 'bogus'"),
    ({"max_results": 50001}, "max_results"),
    ({"max_results": 0}, "max_results"),
    ({"page_token": "not-a-token"}, "Invalid page token"),
    ({"run_view_type": "SOME"}, "run_view_type"),
])
def test_bad_searches_are_rejected(server, fixture_runs, body, fragment):
    experiment_id, _ = fixture_runs
    response = requests.post(server.url + API + "/runs/search",
                             json={"experiment_ids": [experiment_id], **body}, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert fragment in response.json()["message"], response.json()["message"]


def test_empty_and_unknown_experiments(server, client):
    response = requests.post(server.url + API + "/runs/search", json={"experiment_ids": ["424242"]}, timeout=30)
    assert response.status_code == 200 and response.json() == {}
    bad = requests.post(server.url + API + "/runs/search", json={"experiment_ids": ["x1"]}, timeout=30)
    assert bad.status_code == 400 and "Experiment ID must be a valid integer" in bad.json()["message"]
    assert client.search_runs(["424242"]) == []


# --- paging past 10,000 runs -----------------------------------------------------------------

N_BULK = 12_000


@pytest.fixture(scope="module")
def bulk_experiment(client, server):
    """12,000 runs written straight into the server's database: scores with many ties, some
    NaN, some missing; start times with ties too, so only the run_uuid tie-break orders them."""
    experiment_id = client.create_experiment("search-paging")
    db = Database(server.db_url)
    run_rows, metric_rows, tag_rows, expected = [], [], [], {}
    for i in range(N_BULK):
        run_id = uuid.uuid4().hex
        run_rows.append({"run_uuid": run_id, "experiment_id": int(experiment_id), "name": f"bulk-{i}",
                         "user_id": "bench", "status": "FINISHED", "start_time": 1_000 + i % 500,
                         "end_time": None, "lifecycle_stage": "active",
                         "artifact_uri": f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
                         "deleted_time": None})
        tag_rows.append({"run_uuid": run_id, "key": "mlflow.runName", "value": f"bulk-{i}"})
        score = None if i % 7 == 0 else (math.nan if i % 11 == 0 else float(i % 20))
        if score is not None:
            metric_rows.append({"run_uuid": run_id, "key": "score", "step": 0, "timestamp": 1,
                                "value": 0.0 if math.isnan(score) else score, "is_nan": math.isnan(score)})
        expected[run_id] = (score, 1_000 + i % 500)
    try:
        with db.write() as conn:
            conn.execute(insert(runs), run_rows)
            conn.execute(insert(tags), tag_rows)
            conn.execute(insert(latest_metrics), metric_rows)
    finally:
        db.dispose()
    return experiment_id, expected


def page_through(client, experiment_id, order_by, page_size=1000, filter_string=""):
    seen, token, pages = [], None, 0
    while True:
        page = client.search_runs([experiment_id], filter_string, order_by=order_by,
                                  max_results=page_size, page_token=token)
        seen += [r.info.run_id for r in page]
        pages += 1
        token = page.token
        if not token:
            return seen, pages


def test_paging_default_order_sees_every_run_once(client, bulk_experiment):
    experiment_id, expected = bulk_experiment
    started = time.monotonic()
    seen, pages = page_through(client, experiment_id, [])
    elapsed = time.monotonic() - started
    assert len(seen) == N_BULK and set(seen) == set(expected) and pages == N_BULK // 1000
    assert seen == sorted(expected, key=lambda r: (-expected[r][1], r))
    assert elapsed < 60, f"paging {N_BULK} runs took {elapsed:.1f}s"  # a guard against O(n²), not a benchmark


def test_paging_by_metric_with_ties_nan_and_missing(client, bulk_experiment):
    experiment_id, expected = bulk_experiment
    seen, _ = page_through(client, experiment_id, ["metrics.score DESC"], page_size=2500)
    assert len(seen) == N_BULK and len(set(seen)) == N_BULK

    def key(run_id):
        score, start = expected[run_id]
        rank = 2 if score is None else (1 if math.isnan(score) else 0)
        return (rank, -(score if rank == 0 else 0), -start, run_id)

    assert seen == sorted(expected, key=key)


def test_paging_with_a_filter(client, bulk_experiment):
    experiment_id, expected = bulk_experiment
    seen, _ = page_through(client, experiment_id, ["metrics.score ASC"], page_size=700,
                           filter_string="metrics.score >= 15")
    wanted = {r for r, (s, _) in expected.items() if s is not None and not math.isnan(s) and s >= 15}
    assert len(seen) == len(wanted) and set(seen) == wanted


def test_a_token_only_works_for_its_own_query(client, bulk_experiment):
    experiment_id, _ = bulk_experiment
    page = client.search_runs([experiment_id], "", max_results=10)
    with pytest.raises(MlflowException) as err:
        client.search_runs([experiment_id], "metrics.score > 1", max_results=10, page_token=page.token)
    assert "different query" in err.value.message
