"""Password hashing (argon2id) and the password policy.

No password is ever stored, logged or echoed; only argon2id hashes are kept, and the last
few of them so a reused password can be refused (21 CFR Part 11 §11.300(b)).
"""
from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from medflow.auth.config import AuthConfig
from medflow.errors import MedflowError

MAX_PASSWORD_LENGTH = 1024  # argon2 hashes anything, but an unbounded input is a cheap DoS


class Passwords:
    """Hashing with the configured cost, verification of any stored argon2 hash, the policy."""

    def __init__(self, config: AuthConfig):
        self.config = config
        self._hasher = PasswordHasher(time_cost=config.auth_argon2_time_cost,
                                      memory_cost=config.auth_argon2_memory_kib, parallelism=2,
                                      type=Type.ID)
        self._dummy_hash: str | None = None

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        if not stored_hash:
            self.burn(password)
            return False
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def burn(self, password: str) -> None:
        """Spend the time of one verification (no account, or no password set), so an unknown
        user name costs what a wrong password costs."""
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash("medflow-timing-equaliser")
        try:
            self._hasher.verify(self._dummy_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            pass

    def check_policy(self, password: str | None, *, username: str, previous_hashes: list[str] = ()) -> str:
        """Return the password if the policy accepts it; say exactly what to change otherwise."""
        if not password:
            raise MedflowError.missing("password")
        if not isinstance(password, str):
            raise MedflowError.invalid("'password' must be a string.")
        minimum = self.config.auth_password_min_length
        if len(password) < minimum:
            raise MedflowError.invalid(f"The password is too short: use at least {minimum} characters "
                                       "(a passphrase of several words is easiest to remember).")
        if len(password) > MAX_PASSWORD_LENGTH:
            raise MedflowError.invalid(f"The password is too long: use at most {MAX_PASSWORD_LENGTH} characters.")
        if password.strip() != password:
            raise MedflowError.invalid("The password must not begin or end with white space.")
        if len(set(password)) < 4:
            raise MedflowError.invalid("The password repeats too few characters: use at least 4 different ones.")
        if username and username.lower() in password.lower():
            raise MedflowError.invalid("The password must not contain the user name.")
        for old in previous_hashes:
            if self.verify(old, password):
                raise MedflowError.invalid(
                    f"This password was used recently: choose one that differs from the last "
                    f"{self.config.auth_password_history} passwords of this account.")
        return password
