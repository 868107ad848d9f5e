"""Who may do what: accounts, credentials, authentication and the permission model.

- principal.py     the authenticated identity a request acts as
- config.py        the settings this package reads (AuthConfig)
- passwords.py     argon2id hashing and the password policy
- tokens.py        API token and one-time secret generation and digests
- accounts.py      account administration (users, passwords, tokens)
- directory.py     groups, memberships and workspaces
- grants.py        per-resource grants, grant_creator, break-glass elevation
- bootstrap.py     the first admin without a default password
- authenticate.py  Authenticator: Basic, Bearer and trusted-proxy headers -> Principal
- permissions.py   ACTIONS and can(): the deny-by-default decision
- sessions.py      signed browser session cookies with an idle timeout
- oidc.py          OpenID Connect sign-on (authorization code + PKCE)
- route_actions.py every served route -> the action it needs (deny when missing)
- middleware.py    the ASGI middleware that authenticates every request
- service.py       AuthServices: all of the above over one database
- cache.py         the small expiring cache behind credential and principal caching
"""
