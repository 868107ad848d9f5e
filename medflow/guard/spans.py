"""Overlap queries over many spans in O(log n), so long artifacts scan in linear time."""
from __future__ import annotations

from bisect import bisect_left
from typing import Iterable


class SpanIndex:
    """Answers "does [start, end) overlap any indexed span?" for a fixed set of spans."""

    __slots__ = ("_starts", "_max_end")

    def __init__(self, spans: Iterable[tuple[int, int]]):
        ordered = sorted((s, e) for s, e in spans)
        self._starts = [s for s, _ in ordered]
        self._max_end: list[int] = []
        running = -1
        for _, end in ordered:
            running = max(running, end)
            self._max_end.append(running)

    def overlaps(self, start: int, end: int) -> bool:
        i = bisect_left(self._starts, end) - 1  # last span starting before `end`
        return i >= 0 and self._max_end[i] > start

    def __bool__(self) -> bool:
        return bool(self._starts)
