"""Server-level endpoints: health, version, and the 3.x client's server-info probe."""
from starlette.responses import PlainTextResponse

from medflow import __version__
from medflow.api.endpoint import Endpoint


def get_server_info(services, req):
    """GET /3.0/mlflow/server-info — the 3.x client asks before artifact operations."""
    return {"store_type": "SqlStore", "workspaces_enabled": True,
            "multipart_uploads_enabled": services.artifacts.multipart_supported(),
            "server": "medflow", "version": __version__}


async def health(services, request):
    """GET /health"""
    return PlainTextResponse("OK")


async def version(services, request):
    """GET /version"""
    return PlainTextResponse(__version__)


ROUTES = [Endpoint("GET", "/3.0/mlflow/server-info", get_server_info)]
TOP_LEVEL_ROUTES = [Endpoint("GET", "/health", health, raw=True, audited=False),
                    Endpoint("GET", "/version", version, raw=True, audited=False)]
