"""SQL storage. All SQL lives in this package (SQLAlchemy Core, no ORM on hot paths)."""
