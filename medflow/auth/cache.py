"""A small thread-safe LRU map with per-entry expiry, for verified credentials and principals.

It only ever saves work: every hit is re-checked against the account row's
credential_version (and the auth generation), so a stale entry is never trusted.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any, Hashable


class ExpiringCache:
    def __init__(self, max_entries: int = 10_000):
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if item[0] < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: Hashable, value: Any, ttl_seconds: float) -> None:
        if ttl_seconds <= 0:
            return
        with self._lock:
            self._items[key] = (time.monotonic() + ttl_seconds, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def replace(self, key: Hashable, old: Any, new: Any) -> bool:
        """Swap an unexpired entry's value, if it is still `old`, keeping when it expires."""
        with self._lock:
            item = self._items.get(key)
            if item is None or item[1] is not old or item[0] < time.monotonic():
                return False
            self._items[key] = (item[0], new)
            return True

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)
