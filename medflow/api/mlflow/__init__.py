"""MLflow's REST surface: the route tables of each resource, mounted under /api and /ajax-api."""
