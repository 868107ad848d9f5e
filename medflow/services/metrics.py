"""Metrics: log-metric, log-batch (metrics + params + tags, all or nothing) and history reads.

Validation runs over the whole request before the transaction opens; a batch with one bad
entry writes nothing. Values are never altered: NaN and ±Infinity are stored and returned
as sent, and a step or timestamp that does not fit a 64-bit integer is rejected.
"""
from __future__ import annotations

import base64
import json
from typing import Iterator

from medflow.audit.context import note_detail
from medflow.errors import MedflowError
from medflow.services.numbers import INT64_MAX, INT64_MIN, parse_double, parse_int64
from medflow.services.phi import RUN_TAG_FIELDS, Text, pair_texts, stored_pairs
from medflow.services.runs import check_param, check_tag, write_params, write_tags
from medflow.services.validation import (MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH,
                                         MAX_PARAMS_TAGS_PER_BATCH, check_key, check_length,
                                         check_max_results, check_run_id, check_timestamp)
from medflow.store import metrics as store
from medflow.store import page_tokens
from medflow.store import runs as run_store

MAX_HISTORY_PAGE = 25000            # MLflow's GET_METRIC_HISTORY_MAX_RESULTS; larger asks are paged
MAX_RUNS_PER_HISTORY_REQUEST = 100  # get-history-bulk and get-history-bulk-interval
MAX_SAMPLED_POINTS_PER_RUN = 2500
DEFAULT_SAMPLED_POINTS_PER_RUN = 2500  # MLflow's handler default (the web UI asks for 320)
_OPTIONAL_STRINGS = (("model_id", 64), ("dataset_name", 500), ("dataset_digest", 36))


def _int64(value, path: str, *, required: bool, default: int | None = None) -> int | None:
    if type(value) is int and INT64_MIN <= value <= INT64_MAX:  # the common case, fast
        return value
    return parse_int64(path, value, required=required, default=default)


def parse_point(entry: dict, path: str = "", checked_keys: set | None = None) -> store.Point:
    """One metric from a request ({key, value, timestamp, step?, model_id?, dataset_*?}).
    `checked_keys` remembers keys already validated in this request (batches repeat them)."""
    key = entry.get("key")
    if checked_keys is None or key not in checked_keys:
        if not isinstance(key, str) and key is not None:
            raise MedflowError.invalid(f"Invalid value for parameter '{path}key': expected a string.")
        check_key("Metric", key)
        if checked_keys is not None:
            checked_keys.add(key)
    value = entry.get("value")
    if type(value) is not float:
        if value is None:
            raise MedflowError.missing(f"{path}value")
        value = parse_double(f"{path}value", value)
    timestamp = entry.get("timestamp")
    if type(timestamp) is not int or not 0 <= timestamp <= INT64_MAX:
        timestamp = _int64(timestamp, f"{path}timestamp", required=True)
        check_timestamp(f"{path}timestamp", timestamp)
    step = entry.get("step", 0)
    if type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
        step = _int64(step, f"{path}step", required=False, default=0)
    extras = None
    if len(entry) > 4:  # key, value, timestamp, step are the usual four
        for name, limit in _OPTIONAL_STRINGS:
            extra = entry.get(name)
            if extra is not None and extra != "":
                if not isinstance(extra, str):
                    raise MedflowError.invalid(f"Invalid value for parameter '{path}{name}': expected a "
                                               "string.")
                check_length(f"{path}{name}", extra, limit)
                extras = extras or {}
                extras[name] = extra
    if extras:
        return store.make_point(key, value, timestamp, step, **extras)
    if value != value:  # NaN
        return store.Point(key, 0.0, timestamp, step, True)
    return store.Point(key, value, timestamp, step, False)


def check_batch_limits(metrics: list, params: list, tags: list) -> None:
    for what, limit, count in (("metrics", MAX_METRICS_PER_BATCH, len(metrics)),
                               ("params", MAX_PARAMS_TAGS_PER_BATCH, len(params)),
                               ("tags", MAX_PARAMS_TAGS_PER_BATCH, len(tags)),
                               ("metrics, params, and tags", MAX_ENTITIES_PER_BATCH,
                                len(metrics) + len(params) + len(tags))):
        if count > limit:
            raise MedflowError.invalid(
                f"A batch logging request can contain at most {limit} {what}. Got {count} {what}. "
                f"Please split up {what} across multiple requests and try again.")
    keys = [p.get("key") for p in params]
    duplicates = sorted({k for k in keys if keys.count(k) > 1}, key=str)
    if duplicates:
        raise MedflowError.invalid(
            f"Duplicate parameter keys have been submitted: {duplicates}. Please ensure the request "
            "contains only one param value per param key.")


class MetricService:
    def __init__(self, services):
        self.db = services.db
        self.phi = services.phi

    # --- writes -------------------------------------------------------------------------
    def log_metric(self, run_id: str | None, entry: dict) -> None:
        run_id = check_run_id(run_id)
        point = parse_point(entry)
        self.phi.screen([Text("metric_key", f"metric '{point.key}'", point.key)])  # a key: never redacted
        with self.db.write() as conn:
            if point.model_id:
                run_store.require_active(conn, run_id)
                store.log_points(conn, run_id, [point])
            elif not store.log_point_to_active_run(conn, run_id, point):
                # Nothing written: a missing or deleted run is an error; otherwise the very same
                # point was stored before, and logging it again changes nothing.
                run_store.require_active(conn, run_id)

    def log_batch(self, run_id: str | None, metrics: list[dict], params: list[dict],
                  tags: list[dict]) -> None:
        run_id = check_run_id(run_id)
        check_batch_limits(metrics, params, tags)
        checked: set = set()
        points = [parse_point(m, f"metrics[{i}].", checked) for i, m in enumerate(metrics)]
        param_values = dict(check_param(p.get("key"), p.get("value"), f"params[{i}].")
                            for i, p in enumerate(params))
        tag_values = dict(check_tag(t.get("key"), t.get("value"), f"tags[{i}].")
                          for i, t in enumerate(tags))
        # One screening call for the whole batch; each distinct metric key once (keys repeat
        # across steps). Keys are never redacted, so only param and tag values can change.
        metric_keys = [Text("metric_key", f"metric '{key}'", key) for key in sorted(checked)]
        param_texts = pair_texts("param", param_values)
        screened = self.phi.screen(metric_keys + param_texts + pair_texts("tag", tag_values, RUN_TAG_FIELDS))
        param_values = stored_pairs(param_values, screened[len(metric_keys):len(metric_keys) + len(param_texts)])
        tag_values = stored_pairs(tag_values, screened[len(metric_keys) + len(param_texts):])
        with self.db.write() as conn:
            row = run_store.require_active(conn, run_id)
            if param_values:
                write_params(conn, run_id, param_values)
            store.log_points(conn, run_id, points)
            if tag_values:
                write_tags(conn, row, tag_values)
            if points:
                note_detail("metrics_logged", len(points))

    # --- reads --------------------------------------------------------------------------
    def _require_run(self, conn, run_id: str | None) -> str:
        run_id = check_run_id(run_id)
        run_store.require_row(conn, run_id)
        return run_id

    def history_page(self, run_id: str | None, key: str | None, max_results: int,
                     page_token: str | None) -> dict:
        """One page of history. The token is a keyset position, so page 8 of a 200,000-point
        history costs what page 1 costs."""
        if not key:
            raise MedflowError.missing("metric_key")
        if max_results <= 0:
            raise MedflowError.invalid(f"Invalid value {max_results} for parameter 'max_results' "
                                       "supplied. It must be a positive integer.")
        page = min(max_results, MAX_HISTORY_PAGE)
        fingerprint = page_tokens.fingerprint("metric-history", run_id, key)
        after = _decode_position(page_token, fingerprint)
        with self.db.read() as conn:
            run_id = self._require_run(conn, run_id)
            points = store.history_page(conn, run_id, key, after, page + 1)
        out: dict = {}
        if points:
            out["metrics"] = points[:page]
        if len(points) > page:
            out["next_page_token"] = _encode_position(points[:page], after, fingerprint)
        return out

    def history_stream(self, run_id: str | None, key: str | None) -> Iterator[bytes]:
        """The whole history as JSON bytes; the run is checked before the first byte is sent."""
        if not key:
            raise MedflowError.missing("metric_key")
        with self.db.read() as conn:
            run_id = self._require_run(conn, run_id)

        def chunks() -> Iterator[bytes]:
            with self.db.scan() as conn:
                yield from store.history_json_chunks(conn, run_id, key)

        return chunks()

    def sampled_history(self, run_ids: list[str], key: str | None, max_results: int | None,
                        start_step: int | None, end_step: int | None) -> list[dict]:
        if not run_ids:
            raise MedflowError.missing("run_ids")
        if len(run_ids) > MAX_RUNS_PER_HISTORY_REQUEST:
            raise MedflowError.invalid(
                f"GetMetricHistoryBulkInterval request must specify at most "
                f"{MAX_RUNS_PER_HISTORY_REQUEST} run_ids. Received {len(run_ids)} run_ids.")
        if not key:
            raise MedflowError.missing("metric_key")
        max_results = DEFAULT_SAMPLED_POINTS_PER_RUN if max_results is None else max_results
        if not 1 <= max_results <= MAX_SAMPLED_POINTS_PER_RUN:
            raise MedflowError.invalid(f"max_results must be between 1 and {MAX_SAMPLED_POINTS_PER_RUN}.")
        if (start_step is None) != (end_step is None):
            raise MedflowError.invalid("If either start step or end step are specified, both must be "
                                       "specified.")
        if start_step is not None and start_step > end_step:
            raise MedflowError.invalid("end_step must be greater than start_step. Found "
                                       f"start_step={start_step} and end_step={end_step}.")
        run_ids = list(dict.fromkeys(run_ids))
        with self.db.read() as conn:
            for run_id in run_ids:
                self._require_run(conn, run_id)
            return store.sampled_history(conn, run_ids, key, max_results, start_step, end_step)

    def bulk_history(self, run_ids: list[str], key: str | None, max_results: int | None) -> list[dict]:
        """The web UI's get-history-bulk: unknown runs are skipped, as in MLflow."""
        if not run_ids:
            raise MedflowError.invalid("GetMetricHistoryBulk request must specify at least one run_id.")
        if len(run_ids) > MAX_RUNS_PER_HISTORY_REQUEST:
            raise MedflowError.invalid(
                f"GetMetricHistoryBulk request cannot specify more than {MAX_RUNS_PER_HISTORY_REQUEST} "
                f"run_ids. Received {len(run_ids)} run_ids.")
        if not key:
            raise MedflowError.invalid("GetMetricHistoryBulk request must specify a metric_key.")
        max_results = MAX_HISTORY_PAGE if max_results is None else max_results
        check_max_results(max_results, 2**31)
        with self.db.read() as conn:
            return store.bulk_history(conn, sorted(set(run_ids)), key, min(max_results, MAX_HISTORY_PAGE))


def _encode_position(page: list[dict], after: tuple | None, fingerprint: str) -> str:
    """Keyset token after `page`: its last (step, timestamp) and how many rows at exactly that
    position were returned so far (equal positions can span pages)."""
    last = (page[-1]["step"], page[-1]["timestamp"])
    same = 0
    for point in reversed(page):
        if (point["step"], point["timestamp"]) != last:
            break
        same += 1
    if after is not None and (after[0], after[1]) == last and same == len(page):
        same += after[2]
    payload = json.dumps({"step": last[0], "ts": last[1], "skip": same, "q": fingerprint})
    return base64.urlsafe_b64encode(payload.encode()).decode()


def _decode_position(token: str | None, fingerprint: str) -> tuple[int, int, int] | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode())
        position = (data["step"], data["ts"], data["skip"])
        valid = data.get("q") == fingerprint and all(type(v) is int for v in position) and position[2] >= 0
    except (ValueError, TypeError, KeyError, UnicodeDecodeError):
        valid = False
    if not valid:
        raise MedflowError.invalid("Invalid page token for this metric history. Pass back the "
                                   "next_page_token of the previous page unchanged.")
    return position
