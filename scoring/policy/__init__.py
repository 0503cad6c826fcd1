"""Deterministic policy rules, segments, score decay and routing, applied after the model.

Use:

    schema = policy_schema(features)                        # lead.<feature>, graph.<fact>, built-ins
    policies = PolicySet.compile(config.scoring, schema, config.review)   # PolicyError lists all problems
    segments = policies.segment(frame)                      # before scoring: pick per-segment models
    outcome = policies.evaluate(frame, open_counts=..., rotation=...)
    decisions = apply_outcome(decisions, outcome)           # score, tier, action, review, rule, versions

Expression language (`when:` of policies and segments, `review.high_value`): a Python-like expression,
parsed by Python's `ast` module and never evaluated by Python; only what is listed here is admitted.

- Values: numbers (`1000`, `0.5`), quoted text (`'Web'`), `true` / `false`, lists after `in`
  (`['Web', 'Partner']`), dates as `date('2024-01-31')`.
- Variables: `lead.<feature>` (number, text, true/false or date, by the feature's type), `graph.<fact>`
  (account_is_customer, account_open_opps, account_won_opps, account_lost_opps,
  parent_or_sibling_is_customer, colleagues_engaged_30d, colleagues_engaged_90d,
  account_days_since_engagement, matched, match_method), `score` (0-100, after decay), `probability`,
  `tier` ('A'-'D', from the decayed score), `completeness` (0-1), `days_inactive`, `segment`.
  Segment expressions cannot use score, probability, tier or segment (they are chosen before scoring).
- Operators: `and or not`; `== != < <= > >=` (chains like `40 <= score < 60`); `in` / `not in` a list;
  `'vp' in lead.title` (contains); `+ - * /` on numbers; date - date (days); date +/- days.
- Functions: `is_null(x)`, `contains(text, 'x')`, `starts_with(text, 'x')`, `ends_with(text, 'x')`,
  `matches(text, 'regex')` (the pattern is read as typed, backslashes kept), `days_since(date)`, `date('2024-01-31')`, `abs(x)`, `min(a, b, ...)`,
  `max(a, b, ...)` (ignore missing arguments), `coalesce(x, fallback, ...)` (first present value).
- Text compares without regard to case or runs of whitespace (`lead.source == 'web'` matches "Web");
  text supports `==`, `!=`, `in` and the text functions, not `<` or `>`.
- Missing values: any comparison with a missing value is false, `!=` and `not in` included; a missing
  true/false reads false, so `not x` is true for a missing x; arithmetic with a missing value gives a
  missing value, and so does dividing by zero; `is_null(x)` tests for a missing value.
- Types are checked at start-up: `lead.employees > 'big'`, `score and 3` and `lead.source >= 5` are
  errors, as are unknown variables (with a did-you-mean), unknown functions, attribute access other than
  `lead.` / `graph.`, subscripts, comprehensions, lambdas, conditional expressions and comments. Every
  problem of every expression is reported together, with the rule's name, line, column and a caret.

Precedence: policies are tried by `priority` (lower first), then by their order in the file. The first
matching policy sets the action (route, review, nurture or disqualify) and is recorded as
`Decision.rule`; when none matches, the model's action for the tier stands (`scoring.actions`).
`overrode_model` is true when the rule's action (or a route's target) differs from the model's. Review
triggers accumulate: every matching review policy (first or not), a score in `review.borderline`
(inclusive), a lead matching `review.high_value`, completeness below `review.min_completeness`, and a
rule that contradicts the model (it disqualifies a tier A lead, or routes a tier D one). With
`review.enabled: false` only review policies ask for review. A review is a flag on the decision; the
recommended action stays as decided.
"""

from __future__ import annotations

from scoring.policy.apply import apply_outcome, apply_row, decision_fields
from scoring.policy.decay import DecayParameters, decay
from scoring.policy.engine import CompiledPolicy, PolicySet
from scoring.policy.errors import PolicyError, PolicyIssue
from scoring.policy.expr import Condition, check_condition, compile_condition
from scoring.policy.outcome import REVIEW_BITS, PolicyOutcome, PolicyRow
from scoring.policy.routing import Dealt, deal
from scoring.policy.schema import GRAPH_FACTS, Kind, Schema, policy_schema
from scoring.policy.version import policy_version

__all__ = [
    "GRAPH_FACTS",
    "REVIEW_BITS",
    "CompiledPolicy",
    "Condition",
    "Dealt",
    "DecayParameters",
    "Kind",
    "PolicyError",
    "PolicyIssue",
    "PolicyOutcome",
    "PolicyRow",
    "PolicySet",
    "Schema",
    "apply_outcome",
    "apply_row",
    "check_condition",
    "compile_condition",
    "deal",
    "decay",
    "decision_fields",
    "policy_schema",
    "policy_version",
]
