"""API tokens and one-time secrets: 256 random bits, shown once, stored as SHA-256.

A token looks like `mfp_<43 url-safe characters>`; the prefix lets a leaked token be
recognised by secret scanners, and the first characters identify it in listings.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIX = "mfp_"
BOOTSTRAP_PREFIX = "mfb_"
SHOWN_PREFIX_LENGTH = 12  # what listings show of a token, e.g. "mfp_Ab3dE6gH"


def new_secret(prefix: str = TOKEN_PREFIX) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """SHA-256 is enough for 256-bit random secrets: there is nothing to guess from."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def looks_like_token(value: str) -> bool:
    return value.startswith(TOKEN_PREFIX) and 40 <= len(value) <= 80


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
