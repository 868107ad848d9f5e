"""The PHI guard on the write path: every string a client writes is screened before storage.

Services collect the strings of one request (`Text`, or `pair_texts` for params and tags)
and call `screen()` once, before opening their transaction. In block mode (the default)
one finding rejects the whole request — nothing is written — with a message naming the
field and the kind of identifier, never the value. In redact mode the stored text has the
identifiers replaced; in warn mode it is stored as written. Every finding is recorded in
the request's audit event by field and kind.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from medflow.audit.context import current as current_audit, mark_sensitive, note_detail
from medflow.errors import MedflowError
from medflow.guard import GuardConfig, GuardConfigError, apply_policy, phi_message, redact, scan_artifact, scan_text
from medflow.services.access import current_workspace

# Fields whose value is the key itself: a flagged key must not be quoted back to the client.
_KEY_FIELDS = frozenset({"param_key", "tag_key", "metric_key"})
# Fields that must stay valid names after screening: a redacted key would no longer name its
# entry, and "[REDACTED:name]" is not a valid model name (':') or alias. Redact mode blocks these.
_UNREDACTABLE = _KEY_FIELDS | {"model_name", "alias"}
# Run tags that carry one of the run's own fields, screened as that field.
RUN_TAG_FIELDS = {"mlflow.runName": "run_name", "mlflow.note.content": "description"}
# Strings that scanned clean are remembered (never the ones with findings, so no PHI is kept):
# a training loop sends the same metric keys and tags request after request.
_CLEAN_CACHE_SIZE = 8192
_CLEAN_CACHE_MAX_TEXT = 256


@dataclass(frozen=True)
class Text:
    """One string a client writes. `what` names it for the client, e.g. "tag 'note'"."""
    field: str               # the guard's field kind: param_value, tag_value, run_name, ...
    what: str
    text: str | None
    key: str | None = None   # the param/tag key a value is logged under (context)


def pair_texts(kind: str, pairs: Mapping[str, str], value_fields: Mapping[str, str] | None = None,
               where: str = "") -> list[Text]:
    """Key and value Texts, in that order per entry, of params or tags (`kind` "param"/"tag").
    `value_fields` maps a key to the field its value is (e.g. RUN_TAG_FIELDS); `where`
    prefixes the description ("model version ")."""
    texts = []
    for key, value in pairs.items():
        what = f"{where}{kind} '{key}'"
        texts.append(Text(f"{kind}_key", what, key))
        texts.append(Text((value_fields or {}).get(key, f"{kind}_value"), what, value, key))
    return texts


def stored_pairs(pairs: Mapping[str, str], screened: Iterable[str | None]) -> dict[str, str]:
    """The pairs with the values screen() returned for their pair_texts (keys never change)."""
    values = list(screened)[1::2]
    return dict(zip(pairs, values))


def load_guard_config(settings) -> GuardConfig:
    """The site's guard configuration file when one is set (its mode wins), else the mode setting."""
    try:
        if settings.phi_guard_config:
            return GuardConfig.from_yaml(settings.phi_guard_config)
        return GuardConfig(mode=settings.phi_guard_mode)
    except (GuardConfigError, OSError) as exc:
        raise MedflowError.invalid(f"PHI guard configuration is invalid: {exc}") from None


class PhiService:
    def __init__(self, services):
        self.config = load_guard_config(services.settings)
        self.enabled = services.settings.phi_guard_enabled
        self._clean: dict[tuple, None] = {}

    def screen(self, texts: list[Text], *, workspace: str | None = None) -> list[str | None]:
        """The values to store, in order (redacted where the mode says so); raises on block.
        `workspace` defaults to the request's."""
        if not self.enabled:
            return [t.text for t in texts]
        mode = None
        stored, recorded, blocked = [], [], None
        for t in texts:
            if not t.text or (t.field, t.key, t.text) in self._clean:
                stored.append(t.text)
                continue
            findings = scan_text(t.text, field=t.field, key=t.key, config=self.config)
            if not findings:
                self._remember_clean(t)
                stored.append(t.text)
                continue
            if mode is None:
                mode = self.config.mode_for(workspace or current_workspace())
            outcome = apply_policy(t.text, findings, "block" if mode == "redact" and t.field in _UNREDACTABLE
                                   else mode)
            stored.append(outcome.value)
            recorded.append({"field": self._safe_what(t), "kinds": sorted({f.kind for f in findings}),
                             "action": outcome.action})
            _scrub_audit_resource(t.text, findings)
            if outcome.action == "warn":  # stored as written, but never copied into the audit trail
                mark_sensitive(t.text, redact(t.text, findings))
            if outcome.action == "block" and blocked is None:
                blocked = (t, findings)
        if recorded:
            note_detail("phi_findings", recorded)
        if blocked is not None:
            t, findings = blocked
            raise MedflowError.invalid(phi_message(self._safe_what(t), findings))
        return stored

    def screen_artifact(self, path: str, head: bytes, *, workspace: str | None = None) -> bytes | None:
        """Upload hook: None to store as sent, replacement bytes (redact), or raise (block)."""
        if not self.enabled:
            return None
        name = path.rsplit("/", 1)[-1]
        name_findings = scan_text(name, field="artifact_path", config=self.config)
        findings = scan_artifact(name, head, self.config)
        if not findings and not name_findings:
            return None
        mode = self.config.mode_for(workspace or current_workspace())
        recorded = []
        if name_findings:  # a file cannot be renamed on the client's behalf: redact blocks
            _scrub_audit_resource(name, name_findings)
            recorded.append({"field": "artifact file name", "kinds": sorted({f.kind for f in name_findings}),
                             "action": "warn" if mode == "warn" else "block"})
        what = "artifact" if name_findings else f"artifact '{name}'"
        if findings:
            image = any(f.kind == "photo" and f.location == "image" for f in findings)
            recorded.append({"field": what, "kinds": sorted({f.kind for f in findings}),
                             "action": "block" if mode == "redact" and image else mode})
        note_detail("phi_findings", recorded)
        if name_findings and mode != "warn":
            raise MedflowError.invalid(phi_message("artifact file name", name_findings))
        if not findings:
            return None
        if mode == "block":
            raise MedflowError.invalid(phi_message(what, findings))
        if mode == "redact" and any(f.kind == "photo" and f.location == "image" for f in findings):
            raise MedflowError.invalid(phi_message(what, findings))  # an image cannot be redacted
        if mode == "redact":
            text = head.decode("utf-8", errors="replace")
            return apply_policy(text, findings, "redact").value.encode("utf-8")
        return None

    def _remember_clean(self, t: Text) -> None:
        if len(t.text) <= _CLEAN_CACHE_MAX_TEXT and (t.key is None or len(t.key) <= _CLEAN_CACHE_MAX_TEXT):
            if len(self._clean) >= _CLEAN_CACHE_SIZE:
                self._clean.clear()  # cheaper than LRU bookkeeping; refills from the next requests
            self._clean[(t.field, t.key, t.text)] = None

    def _safe_what(self, t: Text) -> str:
        """Describe the field without quoting a key that is itself the identifier."""
        if t.field in _KEY_FIELDS:
            return t.what.split(" '", 1)[0] + " name"
        if t.key and scan_text(t.key, field="tag_key", config=self.config):
            return t.what.split(" '", 1)[0]
        return t.what


def _scrub_audit_resource(text: str, findings) -> None:
    """The audit event names its resource from the request (e.g. a new registered model's
    name): when that is the flagged text, record it redacted instead."""
    audit = current_audit()
    if audit is not None and text and text in audit.resource_id:
        audit.resource_id = audit.resource_id.replace(text, redact(text, findings))
