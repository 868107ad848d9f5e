"""medflow db: schema migrations."""
from __future__ import annotations

import click

from medflow.cli.options import load_settings, store_options
from medflow.store import migrations
from medflow.store.engine import Database


@click.group()
def db() -> None:
    """Database schema: show the revision, upgrade to this version's schema."""


def _open(data_dir, backend_store_uri) -> Database:
    settings = load_settings(data_dir=data_dir, backend_store_uri=backend_store_uri)
    return Database(settings.backend_store_uri)


@db.command()
@store_options
def current(data_dir, backend_store_uri) -> None:
    """Print the schema revision of the database and the one this MedFlow needs."""
    database = _open(data_dir, backend_store_uri)
    click.echo(f"database: {migrations.current_revision(database) or '(empty)'}")
    click.echo(f"this MedFlow: {migrations.head_revision(database)}")


@db.command()
@store_options
def upgrade(data_dir, backend_store_uri) -> None:
    """Upgrade the database schema to this MedFlow's revision (back up first)."""
    database = _open(data_dir, backend_store_uri)
    before = migrations.current_revision(database)
    migrations.upgrade(database)
    click.echo(f"upgraded {before or '(empty)'} -> {migrations.current_revision(database)}")
