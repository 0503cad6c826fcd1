"""The words of a review task: its subject line and its body, as the reviewer reads them in the CRM."""

from __future__ import annotations

from datetime import datetime

from mappings import Crm, CrmMapping, Lead, LeadqConfig
from scoring.decision import ActionKind, Decision, ReviewReason
from sync.setup import SLOT_TEXT

SUBJECT_MAX = 255
BODY_MAX = 30_000  # under Salesforce's 32,000-character Description
SHORT: dict[ReviewReason, str] = {
    ReviewReason.BORDERLINE: "borderline",
    ReviewReason.HIGH_VALUE: "high value",
    ReviewReason.LOW_DATA: "low data",
    ReviewReason.RULE_CONTRADICTS_MODEL: "rule vs model",
    ReviewReason.RULE: "policy rule",
}
_ACTION_WORDS: dict[str, str] = {
    "route": "route the lead to {target}",
    "nurture": "keep the lead in nurture",
    "disqualify": "disqualify the lead",
    "none": "change nothing (the score is shown only)",
}


def short_reasons(decision: Decision) -> tuple[str, ...]:
    """The review reasons in a word or two each ("borderline", "high value")."""
    words = tuple(SHORT.get(reason, str(reason).replace("_", " ")) for reason in decision.review_reasons)
    return words or ("review requested",)


def reason_sentences(decision: Decision, config: LeadqConfig) -> list[str]:
    """Why review is needed, one sentence a reason; the policy engine's own notes where it wrote them."""
    if decision.review_note.strip():
        return [line.strip() for line in decision.review_note.split(";") if line.strip()]
    low, high = config.review.borderline
    rule = decision.rule or "a policy"
    sentences = {
        ReviewReason.BORDERLINE: f"The score {decision.score} is in the borderline band {low}-{high}, "
        "where the model is least sure",
        ReviewReason.HIGH_VALUE: "The lead matches the high-value rule, so a person confirms before anything "
        "happens",
        ReviewReason.LOW_DATA: f"Only {decision.data_completeness:.0%} of the lead's data is filled in "
        f"(below {config.review.min_completeness:.0%})",
        ReviewReason.RULE_CONTRADICTS_MODEL: f"Policy {rule} recommends {decision.action.value}, which "
        f"contradicts the model's tier {decision.tier}",
        ReviewReason.RULE: f"Policy {rule} asks for a review",
    }
    found = [sentences.get(reason, str(reason)) for reason in decision.review_reasons]
    return found or ["leadq asks a person to confirm this score"]


def action_words(action: str, target: str | None) -> str:
    """A recommended action in words ("route the lead to 005...")."""
    template = _ACTION_WORDS.get(action, action)
    return template.format(target=target or "its owner")


def person_label(lead_id: str, person: Lead | None) -> str:
    """ "Jane Doe (Acme)", or the record id when the name is unknown."""
    name = (person.name if person else None) or (person.email if person else None) or lead_id
    company = person.company if person else None
    return f"{name} ({company})" if company else name


def subject(decision: Decision, person: Lead | None, reasons: tuple[str, ...]) -> str:
    """ "leadq review: Jane Doe (Acme) scored 52 (B) - borderline", at most 255 characters."""
    text = (
        f"leadq review: {person_label(decision.lead_id, person)} scored {decision.score} ({decision.tier})"
        f" - {', '.join(reasons)}"
    )
    text = " ".join(text.split())  # a name with a line break must not break the subject
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "\u2026"


def _decision_help(
    crm: Crm, mapping: CrmMapping, config: LeadqConfig, action: str, target: str | None
) -> list[str]:
    decision_spec = mapping.writeback.field_for("task_decision")
    override_spec = mapping.writeback.field_for("override")
    options = {o.casefold(): o for o in decision_spec.options}
    approve, reject, override = (options.get(w, w.capitalize()) for w in ("approve", "reject", "override"))
    fallback = action_words(config.review.on_reject, None)
    record = "contact" if crm == "hubspot" else "lead or contact"
    done = "mark the task complete" if crm == "hubspot" else "set the task's Status to Completed"
    lines = [
        f"How to decide: on this task, set {SLOT_TEXT['task_decision'][0]} ({decision_spec.field}) to one of",
        f"- {approve}: leadq will {action_words(action, target)}.",
        f"- {reject}: the score is wrong; leadq will {fallback} instead.",
        f"- {override}: first write your own score (0-100) in {SLOT_TEXT['override'][0]} "
        f"({override_spec.field}) on the {record}; it replaces leadq's score for "
        f"{config.review.override_expiry_days} days.",
    ]
    if decision_spec.kind == "text":
        lines.append(f'  (or write the score into the decision itself, e.g. "{override} 75")')
    lines.append(f"Then {done}. leadq reads your decision on its next sync.")
    return lines


def body(
    crm: Crm,
    mapping: CrmMapping,
    config: LeadqConfig,
    decision: Decision,
    person: Lead | None,
    action: str,
    target: str | None,
    due: datetime,
) -> str:
    """Why review is needed, the score and its reasons, the recommendation, and how to record a decision."""
    lines = [
        f"leadq asks you to review {person_label(decision.lead_id, person)} (record {decision.lead_id}) "
        f"by {due:%Y-%m-%d %H:%M} UTC.",
        "",
        "Why review:",
        *(f"- {sentence}." for sentence in reason_sentences(decision, config)),
        "",
        f"Score: {decision.score} of 100, tier {decision.tier} "
        f"({decision.probability:.0%} estimated chance to convert).",
    ]
    if decision.reasons_text.strip():
        lines += ["", "What moves the score:", decision.reasons_text.strip()]
    recommended = action_words(action, target)
    if decision.rule and decision.overrode_model:
        recommended += f" (policy {decision.rule} overrode the model)"
    model = decision.model_version or "unknown"
    if decision.policy_version:
        model += f", policy {decision.policy_version}"
    if decision.rule_based:
        model += "; rules-only scoring while there are too few outcomes to train a model"
    lines += ["", f"Recommended action: {recommended}.", f"Model version: {model}.", ""]
    lines += _decision_help(crm, mapping, config, action, target)
    text = "\n".join(lines)
    return text if len(text) <= BODY_MAX else text[: BODY_MAX - 1] + "\u2026"


def recommended(decision: Decision, config: LeadqConfig) -> tuple[str, str | None]:
    """The action an approval carries out: the decision's own, or the model's for its tier when the
    decision's action is the review itself."""
    if decision.action is ActionKind.REVIEW:
        tier_action = str(getattr(config.scoring.actions, decision.tier, "none"))
        return tier_action, None
    return decision.action.value, decision.action_target
