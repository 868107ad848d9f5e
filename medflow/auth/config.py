"""The settings the auth package reads, with safe defaults.

Field names equal the rows of medflow/config.py's SETTINGS table (MEDFLOW_<NAME UPPER>), so
`AuthConfig.from_settings(settings)` copies whatever the server's Settings carries and keeps
the defaults below for the rest. `setting_rows()` lists them as (name, type, default, help).
"""
from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from functools import cached_property

from medflow.auth.principal import ROLES
from medflow.errors import MedflowError


def _f(default, help_text: str):
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class AuthConfig:
    auth_enabled: bool = _f(True, "Require authentication on every endpoint except /health. Turn off only "
                                  "for a single-user laptop; never with patient data.")
    auth_password_min_length: int = _f(12, "Shortest password accepted (at least 12).")
    auth_password_history: int = _f(5, "A new password may not equal any of this many previous ones.")
    auth_password_expiry_days: int = _f(0, "Days after which a password must be changed; 0 = never "
                                           "(NIST SP 800-63B advises against forced rotation).")
    auth_lockout_threshold: int = _f(5, "Consecutive failed logins that lock an account.")
    auth_lockout_minutes: int = _f(0, "Minutes a locked account stays locked; 0 = until an admin unlocks it.")
    auth_credential_cache_seconds: int = _f(60, "Seconds a verified password is remembered in memory "
                                                "(invalidated at once by a password change or lock).")
    auth_token_default_days: int = _f(90, "Lifetime of a new API token when none is given.")
    auth_token_max_days: int = _f(365, "Longest lifetime an API token may be given.")
    auth_session_idle_minutes: int = _f(15, "Idle minutes after which a browser session is logged off.")
    auth_session_max_hours: int = _f(12, "Hours after which a browser session ends even when active.")
    auth_break_glass_max_minutes: int = _f(240, "Longest emergency (break-glass) elevation.")
    auth_trusted_proxies: str = _f("", "Comma-separated addresses or CIDRs of reverse proxies whose "
                                       "user/group headers are trusted; empty = proxy headers ignored.")
    auth_proxy_user_header: str = _f("X-Forwarded-User", "Header carrying the user name set by the proxy.")
    auth_proxy_groups_header: str = _f("X-Forwarded-Groups", "Header carrying the comma-separated "
                                                             "groups set by the proxy.")
    auth_external_default_roles: str = _f("viewer", "Roles of an account first seen through SSO or the proxy.")
    auth_external_role_groups: str = _f("", "Identity-provider groups that confer a role, as "
                                            "'group=role,group=role' (e.g. 'medflow-admins=admin').")
    auth_default_workspace: str = _f("default", "Default workspace of accounts created without one.")
    auth_argon2_time_cost: int = _f(3, "argon2id iterations for new password hashes.")
    auth_argon2_memory_kib: int = _f(65536, "argon2id memory for new password hashes, in KiB.")
    oidc_issuer: str = _f("", "OpenID Connect issuer URL; empty = SSO off.")
    oidc_client_id: str = _f("", "OIDC client id registered for MedFlow.")
    oidc_client_secret: str = _f("", "OIDC client secret (empty for a public client using PKCE only).")
    oidc_redirect_uri: str = _f("", "Callback URL registered at the identity provider.")
    oidc_scopes: str = _f("openid profile email groups", "Scopes requested at sign-on.")
    oidc_username_claim: str = _f("preferred_username", "ID-token claim used as the MedFlow user name.")
    oidc_groups_claim: str = _f("groups", "ID-token claim listing the user's groups.")

    @classmethod
    def from_settings(cls, settings, **overrides) -> "AuthConfig":
        values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(cls) if hasattr(settings, f.name)}
        values.update(overrides)
        return cls(**values).checked()

    def checked(self) -> "AuthConfig":
        if self.auth_password_min_length < 12:
            raise MedflowError.invalid("MEDFLOW_AUTH_PASSWORD_MIN_LENGTH must be at least 12.")
        if self.auth_lockout_threshold < 1:
            raise MedflowError.invalid("MEDFLOW_AUTH_LOCKOUT_THRESHOLD must be at least 1.")
        for role in self.external_default_roles | set(self.external_role_groups.values()):
            if role not in ROLES:
                raise MedflowError.invalid(f"Unknown role '{role}' in the SSO/proxy role settings; "
                                           f"roles are {', '.join(ROLES)}.")
        _ = self.trusted_proxy_networks
        return self

    @cached_property
    def trusted_proxy_networks(self) -> tuple:
        networks = []
        for item in filter(None, (p.strip() for p in self.auth_trusted_proxies.split(","))):
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise MedflowError.invalid(f"MEDFLOW_AUTH_TRUSTED_PROXIES: '{item}' is not an address or "
                                           "CIDR (e.g. 10.0.0.5 or 10.0.0.0/24).") from None
        return tuple(networks)

    @property
    def external_default_roles(self) -> frozenset[str]:
        return frozenset(filter(None, (r.strip() for r in self.auth_external_default_roles.split(","))))

    @property
    def external_role_groups(self) -> dict[str, str]:
        out = {}
        for pair in filter(None, (p.strip() for p in self.auth_external_role_groups.split(","))):
            group, _, role = pair.partition("=")
            if not group.strip() or not role.strip():
                raise MedflowError.invalid(f"MEDFLOW_AUTH_EXTERNAL_ROLE_GROUPS: '{pair}' is not 'group=role'.")
            out[group.strip()] = role.strip()
        return out


def setting_rows() -> list[tuple[str, type, object, str]]:
    """(name, type, default, help) for each setting, as rows for medflow/config.py's SETTINGS."""
    return [(f.name, type(f.default), f.default, f.metadata["help"]) for f in dataclasses.fields(AuthConfig)]
