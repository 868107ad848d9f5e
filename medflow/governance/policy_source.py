"""The policy file the server runs with (setting MEDFLOW_GOVERNANCE_POLICY), kept current.

Loaded and validated at start-up: an invalid file stops the server with the error. While
running, the file is checked for changes (size and modification time) on each governed
decision and reloaded. A change that does not validate is not applied: the last valid
policy stays in force, the error is logged and shown by GET /api/medflow/v1/approvals/policy,
so a typo can never switch governance off.
"""
from __future__ import annotations

import logging
import os
import threading

from medflow.governance.policy import Policy, PolicyError, load_policy_file

log = logging.getLogger("medflow.governance")


class PolicySource:
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._policy: Policy | None = None
        self._stamp: tuple[int, int] | None = None
        self.problem: str | None = None  # why the file on disk is not the policy in force
        if path:
            self._stamp = self._stat()
            self._policy = load_policy_file(path)  # PolicyError: the server does not start

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def current(self) -> Policy | None:
        """The policy in force (None: no policy configured, MedFlow behaves like MLflow)."""
        if not self.path:
            return None
        stamp = self._stat()
        if stamp == self._stamp:
            return self._policy
        with self._lock:
            if stamp != self._stamp:
                self._reload(stamp)
        return self._policy

    def _reload(self, stamp) -> None:
        self._stamp = stamp
        try:
            policy = load_policy_file(self.path)
        except PolicyError as e:
            self.problem = f"{e}; the previous policy {self._policy.sha256[:12]} stays in force"
            log.error("governance policy not reloaded: %s", self.problem)
            return
        if policy.sha256 != self._policy.sha256:
            log.warning("governance policy changed: %s -> %s", self._policy.sha256[:12], policy.sha256[:12])
        self._policy, self.problem = policy, None
