"""Settings: one table, read once from the environment (MEDFLOW_*) and the command line.

This is the only module that reads os.environ. Everything below create_app() receives a
Settings object.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from medflow.errors import MedflowError


@dataclass(frozen=True)
class Setting:
    name: str
    cast: Callable[[str], object]
    default: object
    help: str

    @property
    def env_var(self) -> str:
        return "MEDFLOW_" + self.name.upper()


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false, got {value!r}")


SETTINGS = [
    Setting("host", str, "127.0.0.1", "Address the server listens on."),
    Setting("port", int, 5000, "Port the server listens on."),
    Setting("data_dir", str, "./medflow-data",
            "Directory for the embedded defaults: the SQLite database and the artifact directory."),
    Setting("backend_store_uri", str, "",
            "Database URL: sqlite:////abs/path.db or postgresql://user@host:5432/db. "
            "Default: SQLite in the data directory."),
    Setting("artifacts_destination", str, "",
            "Where artifacts are stored: a local directory or s3://bucket/prefix. "
            "Default: <data_dir>/artifacts."),
    Setting("s3_endpoint_url", str, "",
            "Endpoint of an S3-compatible object store (MinIO, Ceph, ...); empty for AWS."),
    Setting("max_request_bytes", int, 32 * 1024 * 1024,
            "Largest JSON request body accepted, in bytes (artifact uploads stream and are not limited by it)."),
    Setting("db_pool_size", int, 8, "Connections kept open to PostgreSQL per pool; a server process has two (reads, writes)."),
    Setting("log_level", str, "info", "Server log level: debug, info, warning, error."),
    Setting("audit_enabled", _bool, True,
            "Write the audit trail. Turning it off is for benchmarks only and is logged as a warning."),
    Setting("audit_signing_key", str, "",
            "Ed25519 private key (PEM) that signs audit checkpoints; created on first start. "
            "Default: <data_dir>/audit-signing-key.pem. Replicas must share one key."),
    Setting("audit_flush_interval", float, 0.2,
            "Seconds between batched appends of read/denied/error events."),
    Setting("audit_checkpoint_interval", float, 60.0,
            "Seconds between signed checkpoints of the audit chain head."),
    Setting("audit_retention_days", int, 2190,
            "How long audit events must be kept (default six years). MedFlow never deletes them itself."),
    Setting("phi_guard_enabled", _bool, True,
            "Screen every string and text artifact a client writes for patient identifiers."),
    Setting("phi_guard_mode", str, "block",
            "What a finding does: block (reject the write), redact (store with identifiers replaced) "
            "or warn (store and audit). Per-workspace modes go in the guard configuration file."),
    Setting("phi_guard_config", str, "",
            "YAML file with site patterns (e.g. the hospital's MRN format), allowlists, workforce keys "
            "and per-workspace modes; see docs/operators/phi-guard.md."),
    Setting("governance_policy", str, "",
            "YAML lifecycle policy: which stage transitions and protected aliases need which approvals "
            "and release gates (docs/users/approvals.md); empty = no policy, anyone with EDIT may transition."),
    Setting("auth_enabled", _bool, True,
            "Require authentication on every endpoint except /health and /version. Turn off only for "
            "a single-user laptop with synthetic data; never with patient data."),
    Setting("auth_password_min_length", int, 12, "Shortest password accepted (at least 12)."),
    Setting("auth_password_history", int, 5, "A new password may not equal any of this many previous ones."),
    Setting("auth_password_expiry_days", int, 0,
            "Days after which a password must be changed; 0 = never (NIST SP 800-63B advises against forced rotation)."),
    Setting("auth_lockout_threshold", int, 5, "Consecutive failed logins that lock an account."),
    Setting("auth_lockout_minutes", int, 0, "Minutes a locked account stays locked; 0 = until an admin unlocks it."),
    Setting("auth_credential_cache_seconds", int, 60,
            "Seconds a verified password is remembered in memory (invalidated at once by a password change or lock)."),
    Setting("auth_token_default_days", int, 90, "Lifetime of a new API token when none is given."),
    Setting("auth_token_max_days", int, 365, "Longest lifetime an API token may be given."),
    Setting("auth_session_idle_minutes", int, 15, "Idle minutes after which a browser session is logged off."),
    Setting("auth_session_max_hours", int, 12, "Hours after which a browser session ends even when active."),
    Setting("auth_break_glass_max_minutes", int, 240, "Longest emergency (break-glass) elevation."),
    Setting("auth_trusted_proxies", str, "",
            "Comma-separated addresses or CIDRs of reverse proxies whose user/group headers are trusted; "
            "empty = proxy headers ignored."),
    Setting("auth_proxy_user_header", str, "X-Forwarded-User", "Header carrying the user name set by the proxy."),
    Setting("auth_proxy_groups_header", str, "X-Forwarded-Groups",
            "Header carrying the comma-separated groups set by the proxy."),
    Setting("auth_external_default_roles", str, "viewer", "Roles of an account first seen through SSO or the proxy."),
    Setting("auth_external_role_groups", str, "",
            "Identity-provider groups that confer a role, as 'group=role,group=role' (e.g. 'medflow-admins=admin')."),
    Setting("auth_default_workspace", str, "default", "Default workspace of accounts created without one."),
    Setting("auth_argon2_time_cost", int, 3, "argon2id iterations for new password hashes."),
    Setting("auth_argon2_memory_kib", int, 65536, "argon2id memory for new password hashes, in KiB."),
    Setting("oidc_issuer", str, "", "OpenID Connect issuer URL; empty = SSO off."),
    Setting("oidc_client_id", str, "", "OIDC client id registered for MedFlow."),
    Setting("oidc_client_secret", str, "", "OIDC client secret (empty for a public client using PKCE only)."),
    Setting("oidc_redirect_uri", str, "", "Callback URL registered at the identity provider."),
    Setting("oidc_scopes", str, "openid profile email groups", "Scopes requested at sign-on."),
    Setting("oidc_username_claim", str, "preferred_username", "ID-token claim used as the MedFlow user name."),
    Setting("oidc_groups_claim", str, "groups", "ID-token claim listing the user's groups."),
]
_BY_NAME = {s.name: s for s in SETTINGS}


class _SettingsMethods:
    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides):
        """Settings from MEDFLOW_* variables, then explicit overrides (command-line flags)."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for setting in SETTINGS:
            raw = environ.get(setting.env_var)
            if raw is None or raw == "":
                continue
            try:
                values[setting.name] = setting.cast(raw)
            except ValueError as exc:
                raise MedflowError.invalid(
                    f"{setting.env_var}={raw!r} is not valid: {exc}. {setting.help}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(_BY_NAME)
        if unknown:
            raise MedflowError.invalid(f"unknown settings: {sorted(unknown)}")
        return cls(**values).resolved()  # type: ignore[call-arg]

    def resolved(self):
        """Fill the embedded defaults (SQLite + local directory under data_dir)."""
        data_dir = Path(self.data_dir).expanduser().resolve()
        backend = self.backend_store_uri or f"sqlite:///{data_dir / 'medflow.db'}"
        artifacts = self.artifacts_destination or str(data_dir / "artifacts")
        signing_key = self.audit_signing_key or str(data_dir / "audit-signing-key.pem")
        return dataclasses.replace(self, data_dir=str(data_dir), backend_store_uri=backend,
                                   artifacts_destination=artifacts, audit_signing_key=signing_key)



# One frozen dataclass field per SETTINGS row: the table is the only place a setting is declared.
Settings = dataclasses.make_dataclass(
    "Settings", [(s.name, s.cast if isinstance(s.cast, type) else bool, s.default) for s in SETTINGS],
    bases=(_SettingsMethods,), frozen=True)
Settings.__module__ = __name__
Settings.__doc__ = "MedFlow's settings: one field per row of SETTINGS (see docs/operators/configuration.md)."

def settings_table_markdown() -> str:
    """The settings reference for docs/operators/configuration.md (regenerate with
    `python -m medflow.config > docs/operators/configuration-table.md`)."""
    lines = ["| environment variable | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = "(empty)" if s.default == "" else f"`{s.default}`"
        lines.append(f"| `{s.env_var}` | {default} | {s.help} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(settings_table_markdown(), end="")
