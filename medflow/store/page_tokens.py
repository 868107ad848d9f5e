"""Opaque page tokens: base64 of a small JSON object, validated on the way back in.

A token also carries a fingerprint of the query it belongs to, so a token from one search
replayed against another is rejected instead of silently skipping rows.
"""
from __future__ import annotations

import base64
import hashlib
import json

from medflow.errors import MedflowError


def fingerprint(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:12]


def encode(offset: int, query: str = "") -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "q": query}).encode()).decode()


def decode(token: str | None, query: str = "") -> int:
    """The offset a token points at; 0 for no token."""
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise MedflowError.invalid("Invalid page token, could not base64-decode. Pass back the "
                                   "next_page_token of the previous page unchanged.") from None
    if not isinstance(data, dict) or not isinstance(data.get("offset"), int) or data["offset"] < 0:
        raise MedflowError.invalid("Invalid page token: it does not carry a valid offset.")
    if data.get("q", "") != query:
        raise MedflowError.invalid("Invalid page token: it belongs to a different query. "
                                   "Repeat the same filter and order_by when paging.")
    return data["offset"]


def next_token(offset: int, page_size: int, got: int, query: str = "") -> str | None:
    """Token for the next page, or None when this page was the last (fetch page_size+1 to know)."""
    return encode(offset + page_size, query) if got > page_size else None
