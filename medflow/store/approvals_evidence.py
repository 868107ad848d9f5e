"""SQL reads of what a governance decision looks at: the source run (latest metrics, params,
tags, who created it), the version's tags, and who created the version.

Read-only: runs, metrics and the audit trail belong to other stores; this module only
selects from their tables, one query per kind of evidence.
"""
from __future__ import annotations

from sqlalchemy import Connection, select

from medflow.store.schema import (audit_events, latest_metrics, model_version_tags, params, runs, tags)

RUN_CREATE_ACTION = "POST runs/create"
VERSION_CREATE_ACTION = "POST model-versions/create"


def run_row(conn: Connection, run_id: str):
    return conn.execute(select(runs.c.run_uuid, runs.c.user_id, runs.c.artifact_uri)
                        .where(runs.c.run_uuid == run_id)).first()


def run_metrics(conn: Connection, run_id: str) -> dict[str, float]:
    """The latest value of each metric of the run (NaN where NaN was logged)."""
    rows = conn.execute(select(latest_metrics.c.key, latest_metrics.c.value, latest_metrics.c.is_nan)
                        .where(latest_metrics.c.run_uuid == run_id))
    return {r.key: float("nan") if r.is_nan else float(r.value) for r in rows}


def run_params(conn: Connection, run_id: str) -> dict[str, str]:
    return {r.key: r.value for r in conn.execute(select(params.c.key, params.c.value)
                                                 .where(params.c.run_uuid == run_id))}


def run_tags(conn: Connection, run_id: str) -> dict[str, str]:
    return {r.key: r.value for r in conn.execute(select(tags.c.key, tags.c.value).where(tags.c.run_uuid == run_id))}


def version_tags(conn: Connection, model_pk: int, version: int) -> dict[str, str]:
    rows = conn.execute(select(model_version_tags.c.key, model_version_tags.c.value)
                        .where(model_version_tags.c.model_pk == model_pk, model_version_tags.c.version == version))
    return {r.key: r.value for r in rows}


def creating_actors(conn: Connection, resource_type: str, resource_id: str, action: str) -> set[str]:
    """Who the audit trail says created the resource (successful create events)."""
    rows = conn.execute(select(audit_events.c.actor)
                        .where(audit_events.c.resource_type == resource_type,
                               audit_events.c.resource_id == resource_id, audit_events.c.action == action,
                               audit_events.c.outcome == "success"))
    return {r.actor for r in rows}
