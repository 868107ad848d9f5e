"""registry endpoints (being written)."""
ROUTES = []
