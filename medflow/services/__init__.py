"""The request path, free of HTTP: validation, policy and storage calls for each resource.

`Services` is built once per process by create_app() and handed to every endpoint.
"""
from __future__ import annotations

from medflow.artifacts import ArtifactStore, open_artifact_store
from medflow.audit.signing import CheckpointSigner
from medflow.audit.trail import AuditTrail
from medflow.auth import confirmation
from medflow.config import Settings
from medflow.store.engine import Database


class Services:
    def __init__(self, settings: Settings, db: Database, artifact_store: ArtifactStore):
        from medflow.auth.config import AuthConfig
        from medflow.auth.service import AuthServices
        from medflow.services.approvals import ApprovalService
        from medflow.services.artifacts import ArtifactService
        from medflow.services.audit import AuditService
        from medflow.services.experiments import ExperimentService
        from medflow.services.logged_models import LoggedModelService
        from medflow.services.metrics import MetricService
        from medflow.services.access import Access
        from medflow.services.phi import PhiService
        from medflow.services.registry import RegistryService
        from medflow.services.runs import RunService

        self.settings = settings
        self.db = db
        self.artifact_store = artifact_store
        self.audit_trail = (AuditTrail(db, CheckpointSigner.load_or_create(settings.audit_signing_key),
                                 flush_interval=settings.audit_flush_interval,
                                 checkpoint_interval=settings.audit_checkpoint_interval)
                      if settings.audit_enabled else None)
        # After the trail's hook: confirms a recently verified principal in a transaction that appended no event.
        db.before_commit.append(confirmation.before_commit)
        self.access = Access(self)
        self.phi = PhiService(self)
        self.experiments = ExperimentService(self)
        self.runs = RunService(self)
        self.metrics = MetricService(self)
        self.approvals = ApprovalService(self)  # before the registry, which checks transitions with it
        self.registry = RegistryService(self)
        self.logged_models = LoggedModelService(self)
        self.artifacts = ArtifactService(self)
        self.artifacts.add_upload_check(lambda path, head: self.phi.screen_artifact(path, head),
                                        head_bytes=self.phi.config.max_artifact_scan_bytes)
        self.audit = AuditService(self)
        self.auth = AuthServices(db, AuthConfig.from_settings(settings))

    @classmethod
    def from_settings(cls, settings: Settings) -> "Services":
        db = Database(settings.backend_store_uri, pool_size=settings.db_pool_size)
        return cls(settings, db, open_artifact_store(settings))

    def start(self) -> None:
        if self.audit_trail is not None:
            self.audit_trail.start()

    def close(self) -> None:
        if self.audit_trail is not None:
            self.audit_trail.stop()
        self.db.dispose()
