"""tokens/*: API tokens for the mlflow client (MLFLOW_TRACKING_TOKEN). The secret is returned once."""
from medflow.api.endpoint import Endpoint
from medflow.api.v1.acting import PREFIX, acting, auth_of, require, require_admin
from medflow.errors import MedflowError

P = f"{PREFIX}/tokens"


def create_token(services, req, principal):
    """POST /tokens/create {name, days?, username?} — own tokens; an admin may create them for others."""
    require(principal, "own-account")
    username = req.str("username") or principal.username
    if username != principal.username:
        require_admin(principal)
    secret, token = auth_of(services).accounts.create_token(username, req.str("name", required=True),
                                                            days=req.int64("days"))
    return {"token": secret, "token_info": token}


def list_tokens(services, req, principal):
    """GET /tokens/list?username=&include_inactive= — own tokens; admins any (no username: all)."""
    require(principal, "own-account")
    username = req.str("username") or (None if principal.is_admin else principal.username)
    if username != principal.username:
        require_admin(principal)
    tokens = auth_of(services).accounts.list_tokens(username,
                                                    include_inactive=req.bool("include_inactive"))
    return {"tokens": tokens} if tokens else {}


def revoke_token(services, req, principal):
    """POST /tokens/revoke {id} — own tokens; admins any. Effective on the very next request."""
    require(principal, "own-account")
    raw = req.str("id", required=True)
    if not raw.isdigit():
        raise MedflowError.invalid(f"Invalid token id '{raw[:40]}': use the id shown by tokens/list.")
    accounts = auth_of(services).accounts
    if accounts.token_owner(int(raw)) != principal.account_id:
        require_admin(principal)
    accounts.revoke_token(int(raw))
    return {}


ROUTES = [
    Endpoint("POST", f"{P}/create", acting(create_token)),
    Endpoint("GET", f"{P}/list", acting(list_tokens)),
    Endpoint("POST", f"{P}/revoke", acting(revoke_token)),
]
