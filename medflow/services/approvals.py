"""Clinical approval gates: review requests, electronic signatures, and the governance check the
registry makes inside its own transaction before a stage or a protected alias changes.

The workflow: the author requests review of a version for a target (a stage, or an alias
such as `champion`); reviewers approve or reject it, each with an electronic signature
(password re-entered, printed name, UTC time, meaning, comment) bound to the hash of the
version's content; once the policy's approvals and release gates are satisfied the
registry lets the transition through, records it in the stage/alias history and closes
the review request. With no policy configured nothing is checked, as in MLflow; the
history is kept either way.

Every write validates first and then runs one transaction; the audit trail records each
step (requests, signatures, granted and refused transitions with what was missing).
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from medflow.audit.context import current as current_audit
from medflow.audit.context import note_change, note_detail, note_resource
from medflow.errors import PERMISSION_DENIED, MedflowError
from medflow.governance import evidence
from medflow.governance.gates import gate_failures
from medflow.governance.policy import PolicyError, load_policy_bytes
from medflow.governance.policy_source import PolicySource
from medflow.governance.reauth import reauthenticate
from medflow.governance.signatures import (MEANINGS, canonical_json, record_hash, signature_problem,
                                           signature_to_wire)
from medflow.governance.transitions import COMPLETED, OPEN, REJECTED, ReviewState, SignatureState, assess
from medflow.services.access import current_principal, current_workspace
from medflow.services.clock import now_ms
from medflow.services.phi import Text
from medflow.services.registry import check_alias, check_model_name, check_stage, check_version
from medflow.services.validation import check_length
from medflow.store import approvals as store
from medflow.store import model_versions as version_store
from medflow.store import registered_models as model_store
from medflow.store.approvals import VersionKey

STAGE, ALIAS = "stage", "alias"
MAX_COMMENT_LENGTH = 5000


@dataclass(frozen=True)
class Target:
    kind: str  # stage | alias
    name: str

    def describe(self) -> str:
        return f"stage {self.name}" if self.kind == STAGE else f"alias '{self.name}'"


@dataclass(frozen=True)
class Clearance:
    """What let a transition through: the policy in force and the approvals counted."""
    policy_sha256: str | None = None
    signature_ids: tuple[int, ...] = ()


def check_target(stage, alias) -> Target:
    if bool(stage) == bool(alias):
        raise MedflowError.invalid("Name exactly one target: 'stage' (e.g. Production) or 'alias' (e.g. champion).")
    return Target(STAGE, check_stage(stage)) if stage else Target(ALIAS, check_alias(alias, for_write=True))


def check_comment(comment, *, required: bool) -> str:
    if comment is None or comment == "":
        if required:
            raise MedflowError.invalid("A rejection needs a 'comment' saying why, so the author can act on it.")
        return ""
    if not isinstance(comment, str):
        raise MedflowError.invalid("'comment' must be a string.")
    check_length("comment", comment, MAX_COMMENT_LENGTH)
    return comment


def _actor() -> str:
    principal = current_principal()
    return principal.username if principal is not None else "anonymous"


class ApprovalService:
    def __init__(self, services):
        self.services = services
        self.db = services.db
        self.artifact_store = services.artifact_store
        self.phi = services.phi
        try:
            self.policy_source = PolicySource(services.settings.governance_policy)
        except PolicyError as e:
            raise MedflowError.invalid(f"The governance policy is invalid: {e}. Check it with "
                                       "`medflow approvals policy validate FILE`.") from None

    # --- inside the registry's transaction ---------------------------------------------------------
    def check_transition(self, conn, model_row, version_row, stage: str) -> Clearance:
        """Raise PERMISSION_DENIED, listing what is missing, unless the policy allows the transition."""
        return self._check(conn, model_row, version_row, Target(STAGE, stage))

    def check_alias(self, conn, model_row, version_row, alias: str) -> Clearance:
        return self._check(conn, model_row, version_row, Target(ALIAS, alias))

    def _check(self, conn, model_row, version_row, target: Target) -> Clearance:
        policy = self.policy_source.current()
        if policy is None:
            return Clearance()
        rule, requirement = policy.requirement(model_row.name, target.kind, target.name)
        self._record_policy(conn, policy)
        if requirement is None:
            return Clearance(policy.sha256)
        key = VersionKey.of(version_row)
        content = (evidence.version_content(conn, self.artifact_store, version_row)
                   if requirement.approvals else None)
        review = self._review_state(conn, key, target, content)
        result = assess(requirement, review, evidence.barred_signers(conn, model_row.name, version_row),
                        gate_failures(requirement.gates, evidence.gate_evidence(
                            conn, self.artifact_store, version_row, requirement.gates, content,
                            guard_config=self.phi.config)))
        if not result.allowed:
            note_detail("governance", {"policy_sha256": policy.sha256, "target": target.describe(),
                                       "missing": result.missing})
            raise MedflowError(PERMISSION_DENIED, (
                f"Moving {model_row.name} version {version_row.version} to {target.describe()} is not allowed "
                f"by the governance policy (rules[{rule.index}], models {', '.join(rule.patterns)}): "
                f"{'; '.join(result.missing)}. See `medflow approvals list {model_row.name} {version_row.version}`."))
        if review is not None and review.status == OPEN:
            store.close_request(conn, review.request_id, COMPLETED, now_ms())
            note_change(f"review_requests.{review.request_id}.status", OPEN, COMPLETED)
        note_detail("governance", {"policy_sha256": policy.sha256, "target": target.describe(),
                                   "signature_ids": [str(i) for i in result.counted_signature_ids]})
        return Clearance(policy.sha256, tuple(result.counted_signature_ids))

    def record_transition(self, conn, model_row, version_row, old_stage: str, new_stage: str,
                          archived: list[int], clearance: Clearance) -> None:
        """Append the stage history: this version's move and the versions it archived."""
        now, actor = now_ms(), _actor()
        rows = [store.history_values(model_row, version_row, STAGE, new_stage, old_stage, now=now, actor=actor,
                                     reason="transition", policy_sha256=clearance.policy_sha256,
                                     signature_ids=clearance.signature_ids)]
        for number in archived:
            other = version_store.get_row(conn, model_row.id, number)
            if other is not None:
                rows.append(store.history_values(
                    model_row, other, STAGE, "Archived", new_stage, now=now, actor=actor,
                    reason=f"archived when version {version_row.version} entered {new_stage}",
                    policy_sha256=clearance.policy_sha256))
        store.insert_history(conn, rows)

    def record_alias(self, conn, model_row, version_row, alias: str, previous_version: int | None,
                     clearance: Clearance) -> None:
        previous = None if previous_version is None else str(previous_version)
        store.insert_history(conn, [store.history_values(
            model_row, version_row, ALIAS, alias, previous, now=now_ms(), actor=_actor(), reason="alias set",
            policy_sha256=clearance.policy_sha256, signature_ids=clearance.signature_ids)])

    def record_alias_removed(self, conn, model_row, alias: str, version: int | None) -> None:
        version_row = version_store.get_row(conn, model_row.id, version) if version is not None else None
        if version_row is not None:
            store.insert_history(conn, [store.history_values(model_row, version_row, ALIAS, alias, str(version),
                                                             now=now_ms(), actor=_actor(), reason="alias deleted",
                                                             removed=True)])

    @staticmethod
    def _record_policy(conn, policy) -> None:
        """The first write under a policy version stores its text; the audit trail shows the change.
        (Checked in the write's transaction, one primary-key lookup: a rolled-back write records nothing.)"""
        if not store.policy_known(conn, policy.sha256):
            previous = store.latest_policy_sha(conn)
            store.record_policy(conn, sha256=policy.sha256, source=policy.source, content=policy.text,
                                now=now_ms(), previous=previous)
            note_change("governance_policy", previous, policy.sha256)

    def _review_state(self, conn, key: VersionKey, target: Target, content) -> ReviewState | None:
        request = store.latest_request(conn, key, target.kind, target.name)
        if request is None:
            return None
        latest: dict[str, object] = {}
        for row in store.signatures_for_request(conn, request.id):
            latest[row.signer_username] = row  # rows come oldest first: the last one is the signer's latest
        states = tuple(self._signature_state(row, content) for row in latest.values())
        return ReviewState(request.id, request.status, states)

    @staticmethod
    def _signature_state(row, content) -> SignatureState:
        problem = signature_problem(row, content.hash, content.manifest) if content is not None else None
        return SignatureState(id=row.id, signer_id=row.signer_id, signer_username=row.signer_username,
                              signer_name=row.signer_name, decision=row.decision, groups=store.signer_groups(row),
                              signed_at=row.signed_at, comment=row.comment, problem=problem)

    # --- the workflow ------------------------------------------------------------------------------
    def _version(self, conn, name: str, version: int, *, lock: bool = False):
        model = (model_store.lock if lock else model_store.require)(conn, name, current_workspace())
        if not 1 <= version <= 2**31 - 1:  # model_versions.version is a 32-bit integer
            raise version_store.not_found(name, version)
        return model, version_store.require(conn, model, version)

    def request_review(self, name, version, *, stage=None, alias=None, comment=None) -> dict:
        name, version, target = check_model_name(name), check_version(version), check_target(stage, alias)
        note_resource("model_version", f"{name}/{version}")
        comment = check_comment(comment, required=False)
        comment = self.phi.screen([Text("description", "review request comment", comment)])[0]
        policy = self.policy_source.current()
        with self.db.write() as conn:
            model, row = self._version(conn, name, version, lock=True)
            key = VersionKey.of(row)
            latest = store.latest_request(conn, key, target.kind, target.name)
            if latest is not None and latest.status == OPEN:
                raise MedflowError.already_exists(
                    f"Review request {latest.id} for {name} version {version} to {target.describe()} is already "
                    "open; reviewers approve or reject it.")
            if policy is not None:
                self._record_policy(conn, policy)
            request_id = store.insert_request(conn, key, target_kind=target.kind, target=target.name,
                                              requested_by=_actor(), now=now_ms(), comment=comment or "",
                                              policy_sha256=policy.sha256 if policy else None)
            note_change(f"review_requests.{request_id}", None, {"target": target.describe(), "status": OPEN})
            return {"review_request": store.request_to_wire(store.latest_request(conn, key, target.kind, target.name))}

    def approve(self, name, version, *, stage=None, alias=None, password=None, comment=None, meaning=None) -> dict:
        return self._sign("approved", name, version, stage, alias, password, comment, meaning or "approval")

    def reject(self, name, version, *, stage=None, alias=None, password=None, comment=None, meaning=None) -> dict:
        return self._sign("rejected", name, version, stage, alias, password, comment, meaning or "review")

    def _sign(self, decision, name, version, stage, alias, password, comment, meaning) -> dict:
        name, version, target = check_model_name(name), check_version(version), check_target(stage, alias)
        note_resource("model_version", f"{name}/{version}")
        if meaning not in MEANINGS:
            raise MedflowError.invalid(f"Invalid signature meaning '{str(meaning)[:40]}': use one of "
                                       f"{', '.join(MEANINGS)}.")
        comment = check_comment(comment, required=decision == "rejected")
        comment = self.phi.screen([Text("description", "signature comment", comment)])[0] or ""
        principal = current_principal()
        audit = current_audit()
        reauthenticate(self.db, self.services.auth, principal, password, audit.client_addr if audit else "")
        groups = principal.groups | principal.roles
        with self.db.read() as conn:  # hash the content outside the write transaction: files can be large
            model, row = self._version(conn, name, version)
            key = VersionKey.of(row)
            content = evidence.version_content(conn, self.artifact_store, row)
            barred = evidence.barred_signers(conn, model.name, row)
        policy = self.policy_source.current()
        requirement = policy.requirement(model.name, target.kind, target.name)[1] if policy else None
        # Separation of duties bars approving only; either decision needs the group the policy names.
        self._check_signer(principal.username, groups, barred if decision == "approved" else {}, requirement,
                           name, version, target)
        now = now_ms()
        with self.db.write() as conn:
            model, locked_row = self._version(conn, name, version, lock=True)
            if VersionKey.of(locked_row) != key or locked_row.storage_location != row.storage_location:
                raise MedflowError.invalid("The version changed while signing; sign again.")
            request = store.latest_request(conn, key, target.kind, target.name)
            if request is None or request.status != OPEN:
                raise MedflowError.invalid(
                    f"{name} version {version} has no open review request for {target.describe()}: the author "
                    f"requests one first (`medflow approvals request {name} {version} --{target.kind} {target.name}`).")
            if decision == "approved" and any(s.signer_username == principal.username and s.decision == decision
                                              for s in store.signatures_for_request(conn, request.id)):
                raise MedflowError.already_exists(f"{principal.username} already approved review request {request.id}.")
            values = {"request_id": request.id, "model_pk": key.model_pk, "version": key.version,
                      "version_created": key.version_created, "target_kind": target.kind, "target": target.name,
                      "decision": decision, "meaning": meaning, "signer_id": principal.account_id,
                      "signer_username": principal.username, "signed_at": now, "comment": comment,
                      "signer_name": principal.display_name or principal.username, "content_hash": content.hash}
            values.update(model_name=model.name, signer_groups=json.dumps(sorted(groups)),
                          manifest=canonical_json(content.manifest), record_hash=record_hash(values))
            signature_id = store.insert_signature(conn, values)
            note_change(f"signatures.{signature_id}", None, {
                "decision": decision, "meaning": meaning, "target": target.describe(), "signer": principal.username,
                "content_hash": content.hash, "record_hash": values["record_hash"]})
            if decision == "rejected":
                store.close_request(conn, request.id, REJECTED, now)
                note_change(f"review_requests.{request.id}.status", OPEN, REJECTED)
            if policy is not None:
                self._record_policy(conn, policy)
            return {"signature": signature_to_wire(dict(values, id=signature_id), None)}

    @staticmethod
    def _check_signer(username, groups, barred, requirement, name, version, target) -> None:
        if (requirement is None or requirement.separation_of_duties) and username in barred:
            raise MedflowError(PERMISSION_DENIED, (
                f"Separation of duties: {username} {barred[username]} and cannot approve {name} version {version}; "
                "another reviewer must sign."))
        wanted = requirement.approver_groups() if requirement is not None else ()
        if wanted and not groups & set(wanted):
            raise MedflowError(PERMISSION_DENIED, (
                f"{username} is not in {' or '.join(wanted)}, who review {target.describe()} under the policy. "
                "An admin adds reviewers to the group (`medflow groups add-member`)."))

    # --- reading -----------------------------------------------------------------------------------
    def list_for_version(self, name, version) -> dict:
        """Review requests, signatures (each verified now) and what each governed target still needs."""
        name, version = check_model_name(name), check_version(version)
        note_resource("model_version", f"{name}/{version}")
        policy = self.policy_source.current()
        with self.db.read() as conn:
            model, row = self._version(conn, name, version)
            key = VersionKey.of(row)
            content = evidence.version_content(conn, self.artifact_store, row)
            out = {"name": model.name, "version": str(version), "content_hash": content.hash}
            requests = [store.request_to_wire(r) for r in store.requests_for_version(conn, key)]
            signatures = [signature_to_wire(dict(s._mapping), signature_problem(s, content.hash, content.manifest))
                          for s in store.signatures_for_version(conn, key)]
            targets = self._target_status(conn, policy, model, row, content) if policy else []
        for field, items in (("review_requests", requests), ("signatures", signatures), ("targets", targets)):
            if items:
                out[field] = items
        if policy is not None:
            out["policy_sha256"] = policy.sha256
        return out

    def _target_status(self, conn, policy, model, row, content) -> list[dict]:
        rule = policy.rule_for(model.name)
        if rule is None:
            return []
        out, barred = [], evidence.barred_signers(conn, model.name, row)
        for kind, requirements in ((STAGE, rule.stages), (ALIAS, rule.aliases)):
            for name, requirement in requirements.items():
                target = Target(kind, name)
                result = assess(requirement, self._review_state(conn, VersionKey.of(row), target, content), barred,
                                gate_failures(requirement.gates, evidence.gate_evidence(
                                    conn, self.artifact_store, row, requirement.gates, content,
                                    guard_config=self.phi.config)))
                item = {"target_kind": kind, "target": name, "allowed": result.allowed}
                if result.missing:
                    item["missing"] = result.missing
                out.append(item)
        return out

    def verify(self, name, version) -> dict:
        listing = self.list_for_version(name, version)
        signatures = listing.get("signatures", [])
        out = {"name": listing["name"], "version": listing["version"], "content_hash": listing["content_hash"],
               "all_valid": all(s["valid"] for s in signatures)}
        if signatures:
            out["signatures"] = signatures
        return out

    def history(self, name, version=None) -> dict:
        """The stage and alias history of a version (or of every version of the model)."""
        name = check_model_name(name)
        version = check_version(version) if version not in (None, "") else None
        note_resource(*(("registered_model", name) if version is None else ("model_version", f"{name}/{version}")))
        with self.db.read() as conn:
            if version is None:
                model = model_store.require(conn, name, current_workspace())
                rows = store.history(conn, model.id)
            else:
                model, row = self._version(conn, name, version)
                rows = store.history(conn, model.id, row.version, row.creation_timestamp)
            entries = [store.history_to_wire(r) for r in rows]
        return {"history": entries} if entries else {}

    def policy_info(self) -> dict:
        policy = self.policy_source.current()
        with self.db.read() as conn:
            versions = store.policy_versions(conn)
        out: dict = {"configured": policy is not None}
        if policy is not None:
            out["policy"] = dict(policy.to_wire(), text=policy.text)
        if self.policy_source.problem:
            out["problem"] = self.policy_source.problem
        if versions:
            out["versions"] = versions
        return out

    @staticmethod
    def validate_policy(text) -> dict:
        if not isinstance(text, str) or not text.strip():
            raise MedflowError.missing("policy")
        try:
            policy = load_policy_bytes(text.encode("utf-8"), "the policy")
        except PolicyError as e:
            raise MedflowError.invalid(f"Invalid governance policy: {e}.") from None
        return {"valid": True, "policy": policy.to_wire()}
