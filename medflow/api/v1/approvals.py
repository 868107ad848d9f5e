"""/api/medflow/v1/approvals: review requests, electronic signatures, verification, stage and
alias history, the governance policy.

A target is named by exactly one of `stage` (Staging, Production, Archived) or `alias`
(e.g. champion). Signing (approve, reject) needs the signer's password in `password`: being
logged in is not enough (21 CFR Part 11 §11.200).
"""
from medflow.api.endpoint import Endpoint

P = "/medflow/v1/approvals"


def _version_and_target(req) -> dict:
    return {"name": req.str("name", required=True), "version": req.raw("version"),
            "stage": req.str("stage"), "alias": req.str("alias")}


def request_review(services, req):
    """POST /approvals/request {name, version, stage | alias, comment?}"""
    return services.approvals.request_review(**_version_and_target(req), comment=req.str("comment"))


def approve(services, req):
    """POST /approvals/approve {name, version, stage | alias, password, comment?, meaning?}"""
    return services.approvals.approve(**_version_and_target(req), password=req.str("password"),
                                      comment=req.str("comment"), meaning=req.str("meaning"))


def reject(services, req):
    """POST /approvals/reject {name, version, stage | alias, password, comment, meaning?}"""
    return services.approvals.reject(**_version_and_target(req), password=req.str("password"),
                                     comment=req.str("comment"), meaning=req.str("meaning"))


def list_approvals(services, req):
    """GET /approvals/list?name=&version= — requests, signatures (verified now), what each target needs."""
    return services.approvals.list_for_version(req.str("name", required=True), req.raw("version"))


def verify_signatures(services, req):
    """GET /approvals/verify?name=&version= — does every signature still match the version's content?"""
    return services.approvals.verify(req.str("name", required=True), req.raw("version"))


def stage_history(services, req):
    """GET /approvals/history?name=&version=? — stage and alias changes with times and actors."""
    return services.approvals.history(req.str("name", required=True), req.raw("version"))


def get_policy(services, req):
    """GET /approvals/policy — the policy in force, its versions, and a reload problem if any."""
    return services.approvals.policy_info()


def validate_policy(services, req):
    """POST /approvals/policy/validate {policy: <YAML text>} — check a policy file without applying it."""
    return services.approvals.validate_policy(req.str("policy", required=True))


ROUTES = [
    Endpoint("POST", f"{P}/request", request_review),
    Endpoint("POST", f"{P}/approve", approve),
    Endpoint("POST", f"{P}/reject", reject),
    Endpoint("GET", f"{P}/list", list_approvals),
    Endpoint("GET", f"{P}/verify", verify_signatures),
    Endpoint("GET", f"{P}/history", stage_history),
    Endpoint("GET", f"{P}/policy", get_policy),
    Endpoint("POST", f"{P}/policy/validate", validate_policy),
]
