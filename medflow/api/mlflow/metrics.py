"""metrics/* endpoints: a run's metric history, whole, paged or sampled."""
from starlette.responses import StreamingResponse

from medflow.api.endpoint import Endpoint
from medflow.api.mlflow.runs import run_id_of

P = "/2.0/mlflow/metrics"


def _all(req, name: str) -> list:
    """A repeated field: every value of a query parameter, or a JSON list."""
    value = req.fields.get(name)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def get_metric_history(services, req):
    """GET /metrics/get-history: paged with max_results, else the whole history streamed."""
    run_id, key = run_id_of(req), req.str("metric_key")
    if req.has("max_results"):
        return services.metrics.history_page(run_id, key, req.int64("max_results"), req.str("page_token"))
    # Streamed in chunks so a 200,000-point history never sits in server memory at once.
    return StreamingResponse(services.metrics.history_stream(run_id, key), media_type="application/json")


def get_metric_history_bulk_interval(services, req):
    """GET /metrics/get-history-bulk-interval: up to max_results sampled points per run."""
    points = services.metrics.sampled_history(
        _all(req, "run_ids"), req.str("metric_key"), req.int64("max_results"),
        req.int64("start_step"), req.int64("end_step"))
    return {"metrics": points} if points else {}


def get_metric_history_bulk(services, req):
    """GET /ajax-api/2.0/mlflow/metrics/get-history-bulk (the web UI's charts)."""
    points = services.metrics.bulk_history(_all(req, "run_id"), req.str("metric_key"),
                                           req.int64("max_results"))
    return {"metrics": points}


ROUTES = [
    Endpoint("GET", f"{P}/get-history", get_metric_history),
    Endpoint("GET", f"{P}/get-history-bulk-interval", get_metric_history_bulk_interval),
    Endpoint("GET", f"{P}/get-history-bulk", get_metric_history_bulk),
]
