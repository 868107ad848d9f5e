"""A database with a real MedFlow schema on each backend, for audit tests that do not need HTTP."""
from __future__ import annotations

import pytest

from tests.conftest import BACKENDS, fresh_database


@pytest.fixture(params=BACKENDS)
def database(request, tmp_path):
    """(Database, url) on a fresh, migrated database; dropped afterwards."""
    with fresh_database(request.param, tmp_path) as created:
        yield created
