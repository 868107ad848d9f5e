"""What a workload is: an untimed set-up per server, then one measurement per repetition."""
from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Sizes:
    """Workload sizes. FULL is the brief's size (fits ~30 min for 4 servers x 2 backends);
    QUICK is for iterating (a few minutes)."""

    reps: int = 3
    heavy_reps: int = 2                   # W1, W3, W4 (minutes per repetition against MLflow)
    keepalive_requests: int = 200
    fresh_requests: int = 50
    w1_points: int = 100_000              # per cell (server x concurrency x repetition)
    w1_clients: tuple[int, ...] = (1, 16)
    w1_prefill_points: int = 1_000_000    # SQLite only: rows already in the metrics table
    w2_requests: int = 400
    w3_runs: int = 20_000
    w3_search_requests: int = 5           # per filter kind and repetition
    w3_page_size: int = 1000
    w4_points: int = 200_000
    w4_page_size: int = 25_000
    w4_interval_requests: int = 10
    w5_mb: int = 50
    w6_versions: int = 200
    w6_reads: int = 50
    fill: str = "sql"                     # "sql": MLflow filled by SQL; "api": everything through the API
    quick: bool = False


FULL = Sizes()
QUICK = Sizes(reps=1, heavy_reps=1, keepalive_requests=200, fresh_requests=30, w1_points=20_000,
              w1_prefill_points=100_000, w2_requests=150, w3_runs=2_000, w3_search_requests=3,
              w4_points=20_000, w4_page_size=5_000, w4_interval_requests=5, w5_mb=10,
              w6_versions=30, w6_reads=20, quick=True)


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool


class Workload:
    """Subclasses set name/title/metrics and implement setup() and measure().

    setup(server, api) -> dict of notes, stored in state; raises client.NotSupported when the
    server lacks the feature. measure(server, api, state, rep) -> {metric key: value, ...}; extra
    non-numeric keys (e.g. "check") are kept as notes.
    """

    name = ""
    title = ""
    metrics: list[Metric] = []

    def __init__(self, sizes: Sizes):
        self.sizes = sizes

    @property
    def reps(self) -> int:
        return self.sizes.heavy_reps if self.heavy else self.sizes.reps

    heavy = False

    def setup(self, server, api, state: dict) -> dict:
        return {}

    def measure(self, server, api, state: dict, rep: int) -> dict:
        raise NotImplementedError


def with_fill(sizes: Sizes, fill: str) -> Sizes:
    return replace(sizes, fill=fill)
