"""The workloads, in the order they run."""
from bench.workloads.artifacts import ArtifactProxy
from bench.workloads.base import FULL, QUICK, Metric, Sizes, Workload
from bench.workloads.history import MetricHistory
from bench.workloads.ingest import Ingest, TrainingLoop
from bench.workloads.registry import Registry
from bench.workloads.search import SearchRuns
from bench.workloads.transport import KeepAlive

ALL = {w.name: w for w in (KeepAlive, Ingest, TrainingLoop, SearchRuns, MetricHistory, ArtifactProxy, Registry)}

__all__ = ["ALL", "FULL", "QUICK", "Metric", "Sizes", "Workload"]
