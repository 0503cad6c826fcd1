"""`leadq explain LEAD` and `leadq history LEAD`: a lead's score as the rep sees it, and how it moved.

Both read the score history in the state store (every scored version is kept), so they work while the CRM is
unreachable. A lead's id is its CRM record id (a Salesforce Lead or Contact id, a HubSpot contact id);
without `--crm` every configured CRM is searched and the one with the newest score wins.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mappings import Crm
from sync.cli_ops_common import (
    ConfigOption,
    CrmOption,
    JsonOption,
    as_dict,
    as_list,
    console,
    crm_name,
    crms_of,
    fail,
    iso,
    read_store,
    when,
)
from sync.state import Override, ScoreRecord, StateStore
from sync.triggers import TRIGGER_TEXT

LeadArgument = Annotated[str, typer.Argument(help="The lead's CRM record id.", show_default=False)]


def find_history(
    store: StateStore, crms: tuple[Crm, ...], lead_id: str, limit: int | None
) -> tuple[Crm, list[ScoreRecord]]:
    """The CRM with the newest score of `lead_id` and its history, newest first; exit 1 if never scored."""
    found: list[tuple[Crm, list[ScoreRecord]]] = []
    for crm in crms:
        history = store.score_history(crm, lead_id, limit)
        if history:
            found.append((crm, history))
    if not found:
        where = " or ".join(crm_name(c) for c in crms) or "any CRM"
        raise fail(
            f"lead {lead_id!r} was never scored in {where}: check the id (the CRM record id of the lead or "
            "contact) and --crm, or run `leadq sync --once` to score changed leads now",
            1,
        )
    return max(found, key=lambda pair: pair[1][0].scored_at)


def _reason(item: Any) -> dict[str, Any]:
    data = as_dict(item)
    if not data and isinstance(item, str):
        data = {"text": item}
    return {k: data.get(k) for k in ("source", "label", "value", "points", "text")}


def override_json(override: Override | None) -> dict[str, Any] | None:
    if override is None:
        return None
    return {
        "score": override.score,
        "set_by": override.set_by,
        "set_at": iso(override.set_at),
        "expires_at": iso(override.expires_at),
    }


def explanation(crm: str, score: ScoreRecord, override: Override | None) -> dict[str, Any]:
    """The latest scored version of a lead as JSON; keys the cycle did not store are None or empty."""
    parts = as_dict(score.contributions)
    return {
        "crm": crm,
        "lead_id": score.lead_id,
        "object": parts.get("object"),
        "scored_at": iso(score.scored_at),
        "score": score.score,
        "tier": score.tier,
        "probability": score.probability,
        "model_version": score.model_version,
        "policy_version": score.policy_version,
        "rule_based": parts.get("rule_based"),
        "segment": parts.get("segment"),
        "completeness": parts.get("completeness"),
        "reasons": score.reasons,
        "up": [_reason(r) for r in as_list(parts.get("up"))],
        "down": [_reason(r) for r in as_list(parts.get("down"))],
        "action": parts.get("action"),
        "target": parts.get("target"),
        "rule": parts.get("rule"),
        "rule_reason": parts.get("rule_reason"),
        "overrode_model": bool(parts.get("overrode_model", False)),
        "review": bool(parts.get("review", False)),
        "review_reasons": [str(r) for r in as_list(parts.get("review_reasons"))],
        "changes": [str(c) for c in as_list(parts.get("changes"))],
        "override": override_json(override),
    }


def _points(value: Any, text: str) -> str:
    """` (+12)` after a reason, unless its text already says so (rules-only reasons carry their points)."""
    if not isinstance(value, int | float) or isinstance(value, bool) or abs(value) < 0.5:
        return ""
    points = f"{value:+.0f}"
    return "" if text.rstrip().endswith(points) else f" ({points})"


OBJECT_NAMES = {"contacts": "contact"}


def _line(out: Console, text: str, style: str = "") -> None:
    out.print(Text(text, style=style), highlight=False)


def render_explanation(doc: dict[str, Any], out: Console) -> None:
    """The explanation as the rep reads it on the record, plus what a reviewer and an admin need."""
    obj = OBJECT_NAMES.get(doc["object"], doc["object"] or "lead")
    probability = "" if doc["probability"] is None else f" (probability {doc['probability']:.2f})"
    _line(out, f"{obj} {doc['lead_id']} in {crm_name(doc['crm'])}: score {doc['score']}, tier {doc['tier']}"
          f"{probability}", "bold")  # fmt: skip
    how = "rules-only scoring" if doc["rule_based"] else f"model {doc['model_version'] or '(unknown)'}"
    extra = [f"policy {doc['policy_version']}"] if doc["policy_version"] else []
    if doc["segment"]:
        extra.append(f"segment {doc['segment']}")
    if isinstance(doc["completeness"], int | float):
        extra.append(f"data completeness {doc['completeness']:.0%}")
    _line(out, f"scored {when(doc['scored_at'])} UTC by {', '.join([how, *extra])}")
    if doc["up"] or doc["down"]:
        for title, sign, items in (("why up:", "+", doc["up"]), ("why down:", "-", doc["down"])):
            _line(out, title, "bold")
            for item in items or [{"text": "(none)"}]:
                text = item.get("text") or item.get("label") or "(no text)"
                _line(out, f"  {sign} {text}{_points(item.get('points'), str(text))}")
    elif doc["reasons"]:
        _line(out, "reasons:", "bold")
        for text in str(doc["reasons"]).splitlines():
            _line(out, f"  {text}")
    if doc["action"]:
        target = f" -> {doc['target']}" if doc["target"] else ""
        _line(out, f"recommended action: {doc['action']}{target}")
    if doc["rule"]:
        why = f" ({doc['rule_reason']})" if doc["rule_reason"] else ""
        overrode = ": it overrode the model" if doc["overrode_model"] else ""
        _line(out, f"rule: {doc['rule']}{why}{overrode}")
    if doc["review"]:
        _line(out, f"review asked: {', '.join(doc['review_reasons']) or 'yes'}", "yellow")
    else:
        _line(out, "review: not asked")
    if doc["changes"]:
        _line(out, "what changed:", "bold")
        for change in doc["changes"]:
            _line(out, f"  - {change}")
    override = doc["override"]
    if override is None:
        _line(out, "override: none active")
    else:
        until = f" until {when(override['expires_at'])} UTC" if override["expires_at"] else " until cleared"
        _line(out, f"override: score {override['score']} set by {override['set_by']} on "
                   f"{when(override['set_at'])} UTC, active{until}", "bold magenta")  # fmt: skip


def explain(
    lead: LeadArgument,
    crm: CrmOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = Path("leadq.yaml"),
) -> None:
    """Why a lead has its score: reasons up and down, the recommended action, rules, review, overrides."""
    with read_store(config) as (loaded, store):
        found_crm, [latest] = find_history(store, crms_of(loaded, crm), lead, 1)
        doc = explanation(found_crm, latest, store.active_override(found_crm, lead))
    if as_json:
        typer.echo(json.dumps(doc, ensure_ascii=False, default=str))
    else:
        render_explanation(doc, console())


def versions(history: list[ScoreRecord], limit: int | None) -> list[dict[str, Any]]:
    """Scored versions newest first with the change against the one before (`delta` None for the first)."""
    rows: list[dict[str, Any]] = []
    for i, score in enumerate(history[:limit] if limit is not None else history):
        previous = history[i + 1] if i + 1 < len(history) else None
        rows.append({
            "scored_at": iso(score.scored_at),
            "score": score.score,
            "tier": score.tier,
            "delta": None if previous is None else score.score - previous.score,
            "changes": [str(c) for c in as_list(as_dict(score.contributions).get("changes"))],
            "trigger": as_dict(score.contributions).get("trigger"),
            "model_version": score.model_version,
            "policy_version": score.policy_version,
        })  # fmt: skip
    return rows


def history_table(crm: str, lead_id: str, rows: list[dict[str, Any]]) -> Table:
    title = f"{lead_id} in {crm_name(crm)}: {len(rows)} scored versions, newest first (times in UTC)"
    table = Table(title=title, title_justify="left", header_style="bold")
    for column in ("scored", "why", "score", "tier", "change", "what changed", "model"):
        table.add_column(
            column, overflow="fold", justify="right" if column in ("score", "change") else "left"
        )
    for r in rows:
        delta = "first" if r["delta"] is None else f"{r['delta']:+d}"
        why = TRIGGER_TEXT.get(str(r["trigger"]), "")
        table.add_row(when(r["scored_at"]), why, str(r["score"]), r["tier"], delta,
                      Text("\n".join(r["changes"])), r["model_version"] or "rules")  # fmt: skip
    return table


def history(
    lead: LeadArgument,
    crm: CrmOption = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Show at most N versions.")] = None,
    as_json: JsonOption = False,
    config: ConfigOption = Path("leadq.yaml"),
) -> None:
    """Every scored version of a lead, newest first: when and why, score, tier, change, what changed, model."""
    with read_store(config) as (loaded, store):
        # One more than shown: the oldest version shown needs its predecessor for the change.
        found_crm, scores = find_history(
            store, crms_of(loaded, crm), lead, None if limit is None else limit + 1
        )
    rows = versions(scores, limit)
    if as_json:
        typer.echo(json.dumps({"crm": found_crm, "lead_id": lead, "versions": rows}, ensure_ascii=False))
    else:
        console().print(history_table(found_crm, lead, rows))
