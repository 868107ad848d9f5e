"""MLflow's search grammar (filter strings and order_by clauses) and its translation to SQL."""
