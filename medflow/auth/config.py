"""The settings the auth package reads, with safe defaults.

Field names equal the rows of medflow/config.py's SETTINGS table (MEDFLOW_<NAME UPPER>), so
`AuthConfig.from_settings(settings)` copies whatever the server's Settings carries and keeps
the defaults below for the rest.
"""
from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from functools import cached_property

from medflow.auth.principal import ROLES
from medflow.errors import MedflowError


@dataclass(frozen=True)
class AuthConfig:
    """What each setting means is documented once, in medflow/config.py's SETTINGS table."""
    auth_enabled: bool = True
    auth_password_min_length: int = 12
    auth_password_history: int = 5
    auth_password_expiry_days: int = 0
    auth_lockout_threshold: int = 5
    auth_lockout_minutes: int = 0
    auth_credential_cache_seconds: int = 60
    auth_token_default_days: int = 90
    auth_token_max_days: int = 365
    auth_session_idle_minutes: int = 15
    auth_session_max_hours: int = 12
    auth_break_glass_max_minutes: int = 240
    auth_trusted_proxies: str = ""
    auth_proxy_user_header: str = "X-Forwarded-User"
    auth_proxy_groups_header: str = "X-Forwarded-Groups"
    auth_external_default_roles: str = "viewer"
    auth_external_role_groups: str = ""
    auth_default_workspace: str = "default"
    auth_argon2_time_cost: int = 3
    auth_argon2_memory_kib: int = 65536
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_redirect_uri: str = ""
    oidc_scopes: str = "openid profile email groups"
    oidc_username_claim: str = "preferred_username"
    oidc_groups_claim: str = "groups"

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
