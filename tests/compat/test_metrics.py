"""Metrics through the official client and raw HTTP: log-metric, log-batch, history reads.

Values are stored and returned faithfully (NaN, ±Infinity), a rejected batch writes nothing,
and the three history reads (paged, streamed, sampled) agree with what was logged.
"""
from __future__ import annotations

import json
import math

import pytest
import requests
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
INT64_MAX = 2**63 - 1


@pytest.fixture(scope="module")
def server(medflow_server):
    return medflow_server


@pytest.fixture(scope="module")
def client(server) -> MlflowClient:
    return MlflowClient(tracking_uri=server.url)


@pytest.fixture(scope="module")
def experiment_id(client) -> str:
    return client.create_experiment("metrics-compat")


@pytest.fixture()
def run_id(client, experiment_id) -> str:
    return client.create_run(experiment_id).info.run_id


def post(server, path: str, body) -> requests.Response:
    return requests.post(server.url + API + path, json=body, timeout=60)


def get(server, path: str, prefix: str = API, **params) -> requests.Response:
    return requests.get(server.url + prefix + path, params=params, timeout=60)


def assert_error(response: requests.Response, status: int, code: str, fragment: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.json()["error_code"] == code, response.text
    assert fragment in response.json()["message"], response.text


def stored(client, run_id):
    run = client.get_run(run_id)
    return run.data.metrics, run.data.params, run.data.tags


def history(client, run_id, key):
    return [(m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key)]


# --- values -------------------------------------------------------------------------------

def test_nan_and_infinities_round_trip(client, run_id, server):
    for key, value in (("nan", math.nan), ("inf", math.inf), ("ninf", -math.inf), ("zero", 0.0)):
        client.log_metric(run_id, key, value, timestamp=10, step=1)
    metrics = client.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"]) and metrics["inf"] == math.inf and metrics["ninf"] == -math.inf
    assert metrics["zero"] == 0.0
    assert math.isnan(client.get_metric_history(run_id, "nan")[0].value)
    # on the wire: the strings protobuf JSON uses, never a bare NaN token
    raw = get(server, "/runs/get", run_id=run_id).text
    assert '"NaN"' in raw and '"Infinity"' in raw and '"-Infinity"' in raw
    for streamed in (get(server, "/metrics/get-history", run_id=run_id, metric_key="inf").text,
                     get(server, "/metrics/get-history", run_id=run_id, metric_key="inf", max_results=5).text):
        assert json.loads(streamed)["metrics"][0]["value"] == "Infinity"


def test_raw_values_in_every_json_spelling(run_id, server, client):
    url = server.url + API + "/runs/log-metric"
    body = '{"run_id": "%s", "key": "lit", "value": NaN, "timestamp": 1}' % run_id
    assert requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30).ok
    for i, value in enumerate(["NaN", "Infinity", "-Infinity", 0.25, 7]):
        assert post(server, "/runs/log-metric", {"run_id": run_id, "key": "spelled", "value": value,
                                                 "timestamp": 100 + i, "step": i}).status_code == 200
    values = [v for _, _, v in history(client, run_id, "spelled")]
    assert math.isnan(values[0]) and values[1:] == [math.inf, -math.inf, 0.25, 7.0]
    assert math.isnan(client.get_run(run_id).data.metrics["lit"])


@pytest.mark.parametrize("body, fragment", [
    ({"key": "m", "value": 1.0}, "Missing value for required parameter 'timestamp'"),
    ({"key": "m", "timestamp": 1}, "Missing value for required parameter 'value'"),
    ({"key": "m", "value": "high", "timestamp": 1}, "'value'"),
    ({"key": "m", "value": True, "timestamp": 1}, "'value'"),
    ({"key": "m", "value": 1.0, "timestamp": -1}, "Timestamp must be a nonnegative long"),
    ({"key": "m", "value": 1.0, "timestamp": INT64_MAX + 1}, "64-bit integer"),
    ({"key": "m", "value": 1.0, "timestamp": 1, "step": INT64_MAX + 1}, "64-bit integer"),
    ({"key": "m", "value": 1.0, "timestamp": 1, "step": -2**63 - 1}, "64-bit integer"),
    ({"key": "m", "value": 1.0, "timestamp": 1, "step": 1.5}, "'step'"),
    ({"key": "m", "value": 10**400, "timestamp": 1}, "too large for a double"),
    ({"key": "k" * 251, "value": 1.0, "timestamp": 1}, "250 characters"),
    ({"key": "bad#key", "value": 1.0, "timestamp": 1}, "Names may only contain"),
    ({"key": "../escape", "value": 1.0, "timestamp": 1}, "resolve to other names"),
    ({"key": "m", "value": 1.0, "timestamp": 1, "dataset_digest": "d" * 37}, "dataset_digest"),
])
def test_log_metric_rejects_what_it_cannot_store_faithfully(run_id, server, client, body, fragment):
    assert_error(post(server, "/runs/log-metric", {"run_id": run_id, **body}), 400,
                 "INVALID_PARAMETER_VALUE", fragment)
    assert client.get_run(run_id).data.metrics == {}


def test_int64_extremes_are_stored_exactly(run_id, server, client):
    assert post(server, "/runs/log-metric", {"run_id": run_id, "key": "big", "value": 1,
                                             "timestamp": INT64_MAX, "step": -2**63}).status_code == 200
    assert post(server, "/runs/log-metric", {"run_id": run_id, "key": "k" * 250, "value": 1,
                                             "timestamp": 0}).status_code == 200
    assert history(client, run_id, "big") == [(-2**63, INT64_MAX, 1.0)]


def test_latest_value_is_max_by_step_timestamp_value(client, run_id):
    for step, ts, value in [(5, 100, 1.0), (3, 900, 2.0), (5, 100, 0.5), (5, 50, 9.0)]:
        client.log_metric(run_id, "auc", value, timestamp=ts, step=step)
    latest = [m for m in client.get_run(run_id).data.metrics.items()]
    assert latest == [("auc", 1.0)]  # (5, 100, 1.0) beats (5, 100, 0.5) and (5, 50, 9.0)
    client.log_batch(run_id, metrics=[Metric("auc", 0.1, 1, 6), Metric("auc", 0.2, 1, 6)])
    assert client.get_run(run_id).data.metrics["auc"] == 0.2


def test_identical_points_are_stored_once(client, run_id):
    for _ in range(3):
        client.log_metric(run_id, "loss", 0.5, timestamp=7, step=2)
    client.log_batch(run_id, metrics=[Metric("loss", 0.5, 7, 2), Metric("loss", 0.4, 8, 3)])
    assert history(client, run_id, "loss") == [(2, 7, 0.5), (3, 8, 0.4)]


def test_metrics_for_a_logged_model(client, experiment_id, run_id, server):
    model = client.create_logged_model(experiment_id, name="m", source_run_id=run_id)
    client.log_metric(run_id, "acc", 0.9, timestamp=5, step=0)
    # what 3.x clients send when they log a model: the run's points again, with the model id
    assert post(server, "/runs/log-batch", {"run_id": run_id, "metrics": [
        {"key": "acc", "value": 0.9, "timestamp": 5, "step": 0, "model_id": model.model_id,
         "dataset_name": "val", "dataset_digest": "abc"}]}).status_code == 200
    assert history(client, run_id, "acc") == [(0, 5, 0.9)]  # not doubled in the run's history
    assert client.get_run(run_id).data.metrics == {"acc": 0.9}


# --- log-batch ----------------------------------------------------------------------------

def test_log_batch_through_client(client, run_id):
    client.log_batch(run_id, metrics=[Metric("m", float(i), 1000 + i, i) for i in range(1000)],
                     params=[Param(f"p{i}", str(i)) for i in range(100)],
                     tags=[RunTag(f"t{i}", "v") for i in range(100)])
    metrics, params, tags = stored(client, run_id)
    assert metrics == {"m": 999.0} and len(params) == 100 and len({k for k in tags if k.startswith("t")}) == 100
    assert len(client.get_metric_history(run_id, "m")) == 1000


def test_log_batch_keeps_nan_and_infinities(client, run_id):
    values = [math.nan if i % 3 == 0 else (math.inf if i % 3 == 1 else -math.inf) for i in range(99)] + [0.5]
    client.log_batch(run_id, metrics=[Metric("odd", v, 10 + i, i) for i, v in enumerate(values)])
    got = [v for _, _, v in history(client, run_id, "odd")]
    assert len(got) == 100 and got[-1] == 0.5
    assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(got, values))
    assert client.get_run(run_id).data.metrics["odd"] == 0.5


def batch(n_metrics=0, n_params=0, n_tags=0):
    return {"metrics": [{"key": "m", "value": i, "timestamp": i, "step": i} for i in range(n_metrics)],
            "params": [{"key": f"p{i}", "value": "v"} for i in range(n_params)],
            "tags": [{"key": f"t{i}", "value": "v"} for i in range(n_tags)]}


@pytest.mark.parametrize("counts, fragment", [
    ((1001, 0, 0), "at most 1000 metrics. Got 1001 metrics"),
    ((0, 101, 0), "at most 100 params. Got 101 params"),
    ((0, 0, 101), "at most 100 tags. Got 101 tags"),
    ((1000, 1, 0), "at most 1000 metrics, params, and tags. Got 1001"),
])
def test_log_batch_limits(run_id, server, client, counts, fragment):
    assert_error(post(server, "/runs/log-batch", {"run_id": run_id, **batch(*counts)}), 400,
                 "INVALID_PARAMETER_VALUE", fragment)
    assert stored(client, run_id)[:2] == ({}, {})


def test_log_batch_boundaries_are_accepted(run_id, server, client):
    assert post(server, "/runs/log-batch", {"run_id": run_id, **batch(900, 100, 0)}).status_code == 200
    assert post(server, "/runs/log-batch", {"run_id": run_id, **batch(0, 0, 100)}).status_code == 200
    metrics, params, tags = stored(client, run_id)
    assert metrics == {"m": 899.0} and len(params) == 100 and len([t for t in tags if t.startswith("t")]) == 100


@pytest.mark.parametrize("mutate, fragment", [
    (lambda b: b["params"].append({"key": "p0", "value": "w"}), "Duplicate parameter keys have been submitted: ['p0']"),
    (lambda b: b["metrics"].append({"key": "late", "value": 1.0}), "'metrics[5].timestamp'"),
    (lambda b: b["metrics"].append({"key": "x", "value": "high", "timestamp": 1}), "metrics[5].value"),
    (lambda b: b["metrics"].append({"key": "x", "value": 1, "timestamp": 1, "step": 2**63}), "64-bit"),
    (lambda b: b["params"].append({"key": "long", "value": "x" * 6001}), "6000 characters"),
    (lambda b: b["tags"].append({"key": "long", "value": "x" * 8001}), "8000 characters"),
    (lambda b: b["tags"].append({"key": "bad key!", "value": "v"}), "Names may only contain"),
])
def test_rejected_batch_writes_nothing(run_id, server, client, mutate, fragment):
    body = {"run_id": run_id, **batch(5, 3, 3)}
    mutate(body)
    assert_error(post(server, "/runs/log-batch", body), 400, "INVALID_PARAMETER_VALUE", fragment)
    metrics, params, tags = stored(client, run_id)
    assert metrics == {} and params == {} and not any(k.startswith("t") for k in tags)
    assert client.get_metric_history(run_id, "m") == []


def test_param_conflict_rejects_the_whole_batch(run_id, server, client):
    client.log_param(run_id, "p1", "original")
    body = {"run_id": run_id, **batch(5, 3, 3)}
    assert_error(post(server, "/runs/log-batch", body), 400, "INVALID_PARAMETER_VALUE",
                 "Changing param values is not allowed")
    metrics, params, tags = stored(client, run_id)
    assert metrics == {} and params == {"p1": "original"} and "t0" not in tags
    with pytest.raises(MlflowException):
        client.log_batch(run_id, params=[Param("p1", "changed")])


# --- history reads ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def long_run(client, experiment_id, server) -> str:
    """A run with 'loss' at steps 0..4999 (timestamps descending, so order is observable)."""
    run_id = client.create_run(experiment_id).info.run_id
    for start in range(0, 5000, 1000):
        metrics = [{"key": "loss", "value": s / 10, "timestamp": 10_000 - s, "step": s}
                   for s in range(start, start + 1000)]
        assert post(server, "/runs/log-batch", {"run_id": run_id, "metrics": metrics}).status_code == 200
    return run_id


def test_history_streamed_whole_in_step_order(long_run, server):
    response = get(server, "/metrics/get-history", run_id=long_run, metric_key="loss")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    points = response.json()["metrics"]
    assert len(points) == 5000 and "next_page_token" not in response.json()
    assert [p["step"] for p in points] == list(range(5000))  # step order, though timestamps descend
    assert points[0] == {"key": "loss", "value": 0.0, "timestamp": 10_000, "step": 0}
    assert get(server, "/metrics/get-history", run_id=long_run, metric_key="none").json() == {}


def test_history_paged(long_run, server, client, experiment_id):
    seen, token = [], None
    while True:
        params = {"run_id": long_run, "metric_key": "loss", "max_results": 1500}
        if token:
            params["page_token"] = token
        body = get(server, "/metrics/get-history", **params).json()
        seen += [p["step"] for p in body["metrics"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert seen == list(range(5000))
    assert len(client.get_metric_history(long_run, "loss")) == 5000  # the client pages by itself
    assert_error(get(server, "/metrics/get-history", run_id=long_run, metric_key="loss", max_results=0),
                 400, "INVALID_PARAMETER_VALUE", "max_results")
    assert_error(get(server, "/metrics/get-history", run_id=long_run, metric_key="loss", max_results=5,
                     page_token="not-a-token"), 400, "INVALID_PARAMETER_VALUE", "page token")
    assert_error(get(server, "/metrics/get-history", run_id="f" * 32, metric_key="loss"), 404,
                 "RESOURCE_DOES_NOT_EXIST")


def test_history_pages_split_points_sharing_a_step_and_timestamp(client, experiment_id, server):
    run_id = client.create_run(experiment_id).info.run_id
    metrics = [{"key": "tied", "value": v, "timestamp": 5, "step": 1} for v in range(7)]
    metrics += [{"key": "tied", "value": 0.5, "timestamp": 1, "step": 0}, {"key": "tied", "value": 9, "timestamp": 6, "step": 2}]
    assert post(server, "/runs/log-batch", {"run_id": run_id, "metrics": metrics}).status_code == 200
    seen, token = [], None
    while True:
        params = {"run_id": run_id, "metric_key": "tied", "max_results": 2}
        if token:
            params["page_token"] = token
        body = get(server, "/metrics/get-history", **params).json()
        seen += [(p["step"], p["value"]) for p in body["metrics"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert seen == [(0, 0.5)] + [(1, float(v)) for v in range(7)] + [(2, 9.0)]


def test_sampled_history(long_run, client, experiment_id, server):
    short = client.create_run(experiment_id).info.run_id
    for step in (0, 10, 20):
        client.log_metric(short, "loss", 1.0, timestamp=1, step=step)
    body = get(server, "/metrics/get-history-bulk-interval", run_ids=[long_run, short],
               metric_key="loss", max_results=100).json()
    by_run = {}
    for p in body["metrics"]:
        by_run.setdefault(p["run_id"], []).append(p["step"])
    assert list(by_run) == [long_run, short]
    steps = by_run[long_run]
    assert len(steps) == 100 and steps[0] == 0 and steps[-1] == 4999 and steps == sorted(set(steps))
    gaps = {b - a for a, b in zip(steps, steps[1:])}
    assert gaps <= {50, 51}  # evenly spaced
    assert by_run[short] == [0, 10, 20]
    ranged = get(server, "/metrics/get-history-bulk-interval", run_ids=long_run, metric_key="loss",
                 start_step=100, end_step=199, max_results=10).json()["metrics"]
    assert [p["step"] for p in ranged][0] == 100 and ranged[-1]["step"] == 199 and len(ranged) == 10
    default = get(server, "/metrics/get-history-bulk-interval", run_ids=long_run, metric_key="loss").json()
    assert len(default["metrics"]) == 2500
    one = get(server, "/metrics/get-history-bulk-interval", run_ids=long_run, metric_key="loss",
              max_results=1).json()["metrics"]
    assert [p["step"] for p in one] == [4999]
    assert_error(get(server, "/metrics/get-history-bulk-interval", run_ids=long_run, metric_key="loss",
                     max_results=2501), 400, "INVALID_PARAMETER_VALUE", "between 1 and 2500")
    assert_error(get(server, "/metrics/get-history-bulk-interval", run_ids=[long_run] * 101,
                     metric_key="loss"), 400, "INVALID_PARAMETER_VALUE", "at most 100")
    assert_error(get(server, "/metrics/get-history-bulk-interval", run_ids=long_run, metric_key="loss",
                     start_step=5), 400, "INVALID_PARAMETER_VALUE", "both must be specified")
    assert_error(get(server, "/metrics/get-history-bulk-interval", run_ids="e" * 32, metric_key="loss"),
                 404, "RESOURCE_DOES_NOT_EXIST")


def test_sampled_history_of_points_sharing_one_step(client, experiment_id, server):
    run_id = client.create_run(experiment_id).info.run_id
    metrics = [{"key": "flat", "value": i, "timestamp": 1000 + i, "step": 0} for i in range(300)]
    assert post(server, "/runs/log-batch", {"run_id": run_id, "metrics": metrics}).status_code == 200
    points = get(server, "/metrics/get-history-bulk-interval", run_ids=run_id, metric_key="flat",
                 max_results=10).json()["metrics"]
    stamps = [p["timestamp"] for p in points]
    assert len(points) == 10 and stamps[0] == 1000 and stamps[-1] == 1299 and stamps == sorted(stamps)


def test_ui_history_bulk(long_run, server):
    body = get(server, "/metrics/get-history-bulk", prefix=AJAX, run_id=[long_run, "d" * 32],
               metric_key="loss", max_results=10).json()
    assert len(body["metrics"]) == 10 and {p["run_id"] for p in body["metrics"]} == {long_run}
    assert_error(get(server, "/metrics/get-history-bulk", prefix=AJAX, metric_key="loss"), 400,
                 "INVALID_PARAMETER_VALUE", "at least one run_id")
