"""The request path, free of HTTP: validation, policy and storage calls for each resource.

`Services` is built once per process by create_app() and handed to every endpoint.
"""
from __future__ import annotations

from medflow.artifacts import ArtifactStore, open_artifact_store
from medflow.config import Settings
from medflow.store.engine import Database


class Services:
    def __init__(self, settings: Settings, db: Database, artifact_store: ArtifactStore):
        from medflow.services.artifacts import ArtifactService
        from medflow.services.experiments import ExperimentService
        from medflow.services.logged_models import LoggedModelService
        from medflow.services.metrics import MetricService
        from medflow.services.registry import RegistryService
        from medflow.services.runs import RunService

        self.settings = settings
        self.db = db
        self.artifact_store = artifact_store
        self.experiments = ExperimentService(self)
        self.runs = RunService(self)
        self.metrics = MetricService(self)
        self.registry = RegistryService(self)
        self.logged_models = LoggedModelService(self)
        self.artifacts = ArtifactService(self)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Services":
        db = Database(settings.backend_store_uri, pool_size=settings.db_pool_size)
        return cls(settings, db, open_artifact_store(settings))

    def close(self) -> None:
        self.db.dispose()
