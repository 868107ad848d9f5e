"""The `medflow` command."""
from __future__ import annotations

import click

from medflow import __version__
from medflow.cli.db import db
from medflow.cli.server import server


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medflow")
def cli() -> None:
    """MedFlow: an MLflow-compatible ML lifecycle server for healthcare."""


cli.add_command(server)
cli.add_command(db)


def main() -> None:
    cli()
