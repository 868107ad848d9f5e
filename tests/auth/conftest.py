"""Fixtures for the auth tests: a migrated database per module and backend, and AuthServices on it.

argon2id runs with a low cost here (time 1, 8 MiB) so the suite stays quick; the hashes are
real argon2id all the same, and production uses the configured (RFC 9106) cost.
"""
from __future__ import annotations

import secrets

import pytest

from medflow.auth.config import AuthConfig
from medflow.auth.service import AuthServices
from tests.conftest import BACKENDS, fresh_database

FAST_ARGON2 = {"auth_argon2_time_cost": 1, "auth_argon2_memory_kib": 8192}
PASSWORD = "correct horse battery staple"


def fast_config(**overrides) -> AuthConfig:
    return AuthConfig(**{**FAST_ARGON2, **overrides}).checked()


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture(scope="module", params=BACKENDS)
def auth_db(request, tmp_path_factory):
    """A fresh, migrated database for the module: (Database, url)."""
    with fresh_database(request.param, tmp_path_factory.mktemp("auth-db")) as created:
        yield created


@pytest.fixture(scope="module")
def auth(auth_db) -> AuthServices:
    return AuthServices(auth_db[0], fast_config())
