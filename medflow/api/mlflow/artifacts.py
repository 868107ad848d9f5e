"""artifacts endpoints (being written)."""
ROUTES = []
