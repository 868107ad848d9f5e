"""The `medflow` command."""
from __future__ import annotations

import click

from medflow import __version__
from medflow.cli.approvals import approvals
from medflow.cli.audit import audit
from medflow.cli.db import db
from medflow.cli.phi import phi
from medflow.cli.server import server
from medflow.cli.users import COMMANDS as ACCOUNT_COMMANDS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="medflow")
def cli() -> None:
    """MedFlow: an MLflow-compatible ML lifecycle server for healthcare."""


cli.add_command(server)
cli.add_command(db)
cli.add_command(audit)
cli.add_command(phi)
cli.add_command(approvals)
for command in ACCOUNT_COMMANDS:
    cli.add_command(command)


def main() -> None:
    cli()
