"""medflow audit: verify the chain, export events, sign a checkpoint."""
from __future__ import annotations

import sys

import click

from medflow.audit import export as audit_export
from medflow.audit.signing import CheckpointSigner
from medflow.audit.trail import AuditTrail
from medflow.audit.verify import verify_chain
from medflow.cli.options import load_settings, store_options
from medflow.store.engine import Database


def _open(data_dir, backend_store_uri, signing_key):
    settings = load_settings(data_dir=data_dir, backend_store_uri=backend_store_uri,
                             audit_signing_key=signing_key)
    return Database(settings.backend_store_uri), CheckpointSigner.load_or_create(settings.audit_signing_key)


def signing_key_option(fn):
    return click.option("--signing-key", default=None,
                        help="Checkpoint signing key (env MEDFLOW_AUDIT_SIGNING_KEY; "
                             "default <data-dir>/audit-signing-key.pem).")(fn)


@click.group()
def audit() -> None:
    """The audit trail: verify its integrity, export it, sign a checkpoint."""


@audit.command()
@store_options
@signing_key_option
def verify(data_dir, backend_store_uri, signing_key) -> None:
    """Recompute the hash chain and check signed checkpoints; exit 1 at the first broken link."""
    db, signer = _open(data_dir, backend_store_uri, signing_key)
    with db.read() as conn:
        result = verify_chain(conn, signer)
    if result.ok:
        click.echo(f"audit trail intact: {result.events} events, {result.checkpoints} signed checkpoints")
        return
    click.echo(f"AUDIT TRAIL BROKEN at event {result.seq}: {result.problem}", err=True)
    sys.exit(1)


@audit.command()
@store_options
@signing_key_option
def checkpoint(data_dir, backend_store_uri, signing_key) -> None:
    """Sign the current chain head now (the server also does this periodically)."""
    db, signer = _open(data_dir, backend_store_uri, signing_key)
    seq = AuditTrail(db, signer).checkpoint()
    click.echo(f"signed checkpoint at event {seq}" if seq else "chain head already checkpointed")


@audit.command("export")
@store_options
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--output", "-o", type=click.File("w"), default="-", help="File to write (default stdout).")
def export_events(data_dir, backend_store_uri, fmt, output) -> None:
    """Write every audit event, in chain order, as JSON Lines or CSV."""
    settings = load_settings(data_dir=data_dir, backend_store_uri=backend_store_uri)
    db = Database(settings.backend_store_uri)
    with db.read() as conn:
        count = audit_export.write(conn, output, fmt)
    click.echo(f"exported {count} events", err=True)
