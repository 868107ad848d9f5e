"""runs endpoints (being written)."""
ROUTES = []
