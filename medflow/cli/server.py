"""medflow server: run the tracking server and model registry."""
from __future__ import annotations

import gc
import logging

import click

from medflow.cli.options import load_settings, store_options
from medflow.errors import MedflowError
from medflow.store.error_text import ValueWithholdingFormatter


@click.command()
@click.option("--host", default=None, help="Listen address (env MEDFLOW_HOST; default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Listen port (env MEDFLOW_PORT; default 5000).")
@store_options
@click.option("--artifacts-destination", default=None,
              help="Local directory or s3://bucket/prefix (env MEDFLOW_ARTIFACTS_DESTINATION; "
                   "default <data-dir>/artifacts).")
def server(host, port, data_dir, backend_store_uri, artifacts_destination) -> None:
    """Serve MLflow's REST API (tracking, registry, artifact proxy) with MedFlow's controls."""
    import uvicorn

    from medflow.app import create_app
    from medflow.auth.bootstrap import bootstrap_admin
    from medflow.services import Services
    from medflow.store import migrations

    settings = load_settings(host=host, port=port, data_dir=data_dir,
                             backend_store_uri=backend_store_uri,
                             artifacts_destination=artifacts_destination)
    log_handler = logging.StreamHandler()
    log_handler.setFormatter(ValueWithholdingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[log_handler])
    try:
        services = Services.from_settings(settings)
        migrations.prepare_for_serving(services.db)
        secret = bootstrap_admin(services.db) if settings.auth_enabled else None
    except MedflowError as exc:
        raise click.ClickException(exc.message) from None
    if secret:
        click.echo("No account exists yet. Create the first admin with\n"
                   "    medflow users create-admin NAME\n"
                   f"or use this one-time secret: {secret} (valid until the next restart):\n"
                   f"    curl -X POST http://{settings.host}:{settings.port}/api/medflow/v1/bootstrap "
                   f"-H 'Content-Type: application/json' -d '{{\"secret\": \"{secret}\", "
                   "\"username\": \"admin\", \"password\": \"<12+ characters>\"}'")
    click.echo(f"MedFlow listening on http://{settings.host}:{settings.port} "
               f"(store: {services.db.dialect}, artifacts: {settings.artifacts_destination})")
    app = create_app(settings, services)
    # What is loaded by now (modules, SQLAlchemy's metadata, the services) lives as long as the
    # process: frozen out of the cyclic collector, a full collection no longer walks it — ~80 ms
    # each time, every ~0.4 s under log-batch load, and ~10 ms frozen. Collected first: no garbage
    # is frozen.
    gc.collect()
    gc.freeze()
    # One process, one listener: no multi-worker socket sharing, so TCP_NODELAY stays set
    # on every connection (MLflow's default server loses ~45 ms per keep-alive request).
    # proxy_headers=False: uvicorn would otherwise take the client address from X-Forwarded-For
    # of any connection from 127.0.0.1, and the address decides who is a trusted proxy
    # (MEDFLOW_AUTH_TRUSTED_PROXIES) and what the audit trail records. Only the TCP peer counts.
    # log_config=None: uvicorn's own messages go through the same handler and formatter.
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None,
                log_level=settings.log_level, access_log=False, server_header=False, proxy_headers=False)
