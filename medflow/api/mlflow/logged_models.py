"""logged_models endpoints (being written)."""
ROUTES = []
