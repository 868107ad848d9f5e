"""AuthServices: the auth package's services over one database, built once per process."""
from __future__ import annotations

from medflow.auth.accounts import AccountService
from medflow.auth.authenticate import Authenticator
from medflow.auth.config import AuthConfig
from medflow.auth.directory import DirectoryService
from medflow.auth.grants import BreakGlassService, GrantService
from medflow.auth.passwords import Passwords
from medflow.store.engine import Database


class AuthServices:
    def __init__(self, db: Database, config: AuthConfig):
        self.db = db
        self.config = config
        passwords = Passwords(config)
        self.accounts = AccountService(db, config, passwords)
        self.directory = DirectoryService(db, config)
        self.grants = GrantService(db, config)
        self.break_glass = BreakGlassService(db, config)
        self.authenticator = Authenticator(config, db, passwords)
