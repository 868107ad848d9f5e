class RunService:
    def __init__(self, services):
        self.db = services.db
