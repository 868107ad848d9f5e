class ArtifactService:
    def __init__(self, services):
        self.store = services.artifact_store

    def multipart_supported(self) -> bool:
        return False
