"""Export audit events as JSON Lines or CSV, streaming in chain order."""
from __future__ import annotations

import csv
import json
from typing import TextIO

from medflow.store import audit as audit_store
from medflow.store.schema import audit_events

COLUMNS = [c.name for c in audit_events.columns]


def event_to_dict(row) -> dict:
    event = row._asdict()
    event["details"] = json.loads(event["details"])
    return event


def write(conn, out: TextIO, fmt: str) -> int:
    count = 0
    writer = csv.DictWriter(out, fieldnames=COLUMNS) if fmt == "csv" else None
    if writer:
        writer.writeheader()
    for row in audit_store.iter_events(conn):
        if writer:
            writer.writerow(row._asdict())
        else:
            out.write(json.dumps(event_to_dict(row), ensure_ascii=False) + "\n")
        count += 1
    return count
