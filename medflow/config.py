"""Settings: one table, read once from the environment (MEDFLOW_*) and the command line.

This is the only module that reads os.environ. Everything below create_app() receives a
Settings object.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from medflow.errors import MedflowError


@dataclass(frozen=True)
class Setting:
    name: str
    cast: Callable[[str], object]
    default: object
    help: str

    @property
    def env_var(self) -> str:
        return "MEDFLOW_" + self.name.upper()


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false, got {value!r}")


SETTINGS = [
    Setting("host", str, "127.0.0.1", "Address the server listens on."),
    Setting("port", int, 5000, "Port the server listens on."),
    Setting("data_dir", str, "./medflow-data",
            "Directory for the embedded defaults: the SQLite database and the artifact directory."),
    Setting("backend_store_uri", str, "",
            "Database URL: sqlite:////abs/path.db or postgresql://user@host:5432/db. "
            "Default: SQLite in the data directory."),
    Setting("artifacts_destination", str, "",
            "Where artifacts are stored: a local directory or s3://bucket/prefix. "
            "Default: <data_dir>/artifacts."),
    Setting("s3_endpoint_url", str, "",
            "Endpoint of an S3-compatible object store (MinIO, Ceph, ...); empty for AWS."),
    Setting("max_request_bytes", int, 32 * 1024 * 1024,
            "Largest JSON request body accepted, in bytes (artifact uploads stream and are not limited by it)."),
    Setting("db_pool_size", int, 8, "Connections kept open to PostgreSQL per server process."),
    Setting("log_level", str, "info", "Server log level: debug, info, warning, error."),
]
_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 5000
    data_dir: str = "./medflow-data"
    backend_store_uri: str = ""
    artifacts_destination: str = ""
    s3_endpoint_url: str = ""
    max_request_bytes: int = 32 * 1024 * 1024
    db_pool_size: int = 8
    log_level: str = "info"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Settings from MEDFLOW_* variables, then explicit overrides (command-line flags)."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env_var)
            if raw is None or raw == "":
                continue
            try:
                values[setting.name] = setting.cast(raw)
            except ValueError as exc:
                raise MedflowError.invalid(
                    f"{setting.env_var}={raw!r} is not valid: {exc}. {setting.help}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(_BY_NAME)
        if unknown:
            raise MedflowError.invalid(f"unknown settings: {sorted(unknown)}")
        return cls(**values).resolved()

    def resolved(self) -> "Settings":
        """Fill the embedded defaults (SQLite + local directory under data_dir)."""
        data_dir = Path(self.data_dir).expanduser().resolve()
        backend = self.backend_store_uri or f"sqlite:///{data_dir / 'medflow.db'}"
        artifacts = self.artifacts_destination or str(data_dir / "artifacts")
        return dataclasses.replace(self, data_dir=str(data_dir), backend_store_uri=backend,
                                   artifacts_destination=artifacts)
