"""metrics endpoints (being written)."""
ROUTES = []
