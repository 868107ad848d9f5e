"""MedFlow's own API under /api/medflow/v1 (administration of accounts and access for now)."""
