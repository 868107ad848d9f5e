"""Options shared by commands that open the backend store."""
from __future__ import annotations

import click

from medflow.config import Settings
from medflow.errors import MedflowError


def store_options(fn):
    fn = click.option("--data-dir", default=None,
                      help="Directory for the embedded defaults (env MEDFLOW_DATA_DIR; default ./medflow-data).")(fn)
    fn = click.option("--backend-store-uri", default=None,
                      help="sqlite:////abs/path.db or postgresql://user@host:5432/db "
                           "(env MEDFLOW_BACKEND_STORE_URI; default SQLite in the data directory).")(fn)
    return fn


def load_settings(**overrides) -> Settings:
    try:
        return Settings.load(**overrides)
    except MedflowError as exc:
        raise click.UsageError(exc.message) from None
