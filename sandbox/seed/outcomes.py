"""The conversion model of the seeded org: a latent logistic score over fit, behaviour and account context.

Every lead (Salesforce) and every new contact (HubSpot) gets `Signals`, all of which can be recomputed from the
records as stored (title keywords, company size and industry of the lead or its matched account, lead source,
free-mail domain, activity counts and timing, account type, opportunities, colleagues' activity, parent
account). The probability of converting is `sigmoid(latent(signals) + hidden + intercept)`, where `hidden` is
per-lead noise no CRM field carries (budget, timing), and the draw is Bernoulli, so no model can be perfect.
Some effects are non-monotonic (company size) or interact (seniority x size, pricing visits x meetings), so
gradient boosting has something to find that a handful of points-per-field rules miss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sandbox.seed.common import sigmoid

TARGET_RATE = (
    0.22  # mean conversion probability of a lead; about 18 % convert once still-open ones are counted
)

# acquisition channel -> (Salesforce LeadSource, HubSpot hs_analytics_source, share of leads, effect)
CHANNELS: dict[str, tuple[str, str, float, float]] = {
    "organic": ("Web", "ORGANIC_SEARCH", 0.22, 0.1),
    "paid_search": ("Web", "PAID_SEARCH", 0.14, 0.0),
    "direct": ("Web", "DIRECT_TRAFFIC", 0.08, 0.2),
    "social": ("Other", "SOCIAL_MEDIA", 0.07, -0.4),
    "paid_social": ("Other", "PAID_SOCIAL", 0.06, -0.5),
    "email": ("Other", "EMAIL_MARKETING", 0.06, -0.1),
    "referral": ("Partner Referral", "REFERRALS", 0.10, 0.8),
    "phone": ("Phone Inquiry", "OFFLINE", 0.09, 0.5),
    "list": ("Purchased List", "OTHER_CAMPAIGNS", 0.18, -1.0),
}
SENIORITY_EFFECT = {5: 0.9, 4: 0.8, 3: 0.6, 2: 0.3, 1: 0.0, 0: -0.3, -1: -1.1}
INDUSTRY_TIER_EFFECT = {1: 0.4, 0: 0.0, -1: -0.6}


def _mean_effect(key: int) -> dict[str, float]:
    acc: dict[str, tuple[float, float]] = {}
    for spec in CHANNELS.values():
        name = str(spec[key])
        w, e = acc.get(name, (0.0, 0.0))
        acc[name] = (w + spec[2], e + spec[2] * spec[3])
    return {k: e / w for k, (w, e) in acc.items()}


# what a model can know from the stored source field alone (several channels share a LeadSource)
SF_SOURCE_EFFECT = _mean_effect(0)
HS_SOURCE_EFFECT = _mean_effect(1)


def size_effect(employees: int | None) -> float:
    """Mid-market and enterprise buy; the very largest buy slowly; tiny companies rarely buy."""
    if employees is None:
        return 0.0
    if employees < 10:
        return -0.9
    if employees < 50:
        return -0.3
    if employees < 200:
        return 0.2
    if employees < 1000:
        return 0.5
    if employees < 5000:
        return 0.6
    return 0.2


@dataclass(slots=True)
class Signals:
    """What the conversion depends on, as observable in the CRM before the lead's outcome."""

    level: int = 0  # seniority, see names.LEVELS
    employees: int | None = None
    industry_tier: int = 0  # 1 good fit, 0 neutral, -1 poor fit
    source_effect: float = 0.0
    freemail: bool = False
    worked: bool = False  # a rep reached out (emails or calls) or met them
    web_visits: int = 0  # all page visits, pricing and careers included
    pricing_visits: int = 0
    careers_visits: int = 0  # job seekers, not buyers
    demo_request: bool = False  # "Request a demo" / "Contact sales" form
    content_downloads: int = 0
    meetings: int = 0
    email_replies: int = 0
    campaign_response: bool = False
    days_quiet: float = 0.0  # days between the last inbound touch and the last activity on the lead
    customer: bool = False  # the lead's account is a customer
    parent_customer: bool = False  # ... or its parent account is
    open_opp: bool = False  # the account had an open opportunity when the lead came in
    recent_loss: bool = False  # the account lost a deal in the 180 days before the lead came in
    colleagues: int = 0  # other people at the account active in the 30 days before the lead's last activity


def latent(s: Signals) -> float:
    """The log-odds of conversion, up to an intercept, from observable signals."""
    employees = s.employees or 0
    z = (
        SENIORITY_EFFECT.get(s.level, 0.0)
        + size_effect(s.employees)
        + INDUSTRY_TIER_EFFECT.get(s.industry_tier, 0.0)
    )
    if s.level >= 3 and employees >= 200:
        z += 0.5  # senior people at large companies own budgets
    elif s.level == 5 and 0 < employees < 50:
        z -= 0.7  # founders of small shops rarely buy enterprise software
    z += s.source_effect - (0.4 if s.freemail else 0.0)
    z += (
        0.35 * math.log1p(s.web_visits) + 0.45 * min(s.pricing_visits, 3) - (0.5 if s.careers_visits else 0.0)
    )
    if s.pricing_visits and s.meetings:
        z += 0.4
    if s.demo_request:
        z += 1.1 if s.level >= 1 else 0.2  # students request demos for coursework
    z += 0.25 * min(s.content_downloads, 3)
    z += 0.8 * min(s.meetings, 2) + (0.5 if s.email_replies else 0.0) + (0.4 if s.campaign_response else 0.0)
    if s.days_quiet > 14:
        z -= 0.9  # interest went cold while reps kept chasing
    z -= 0.0 if s.worked else 1.2
    z += (0.7 if s.customer else 0.0) + (0.5 if s.parent_customer and not s.customer else 0.0)
    z += (0.5 if s.open_opp else 0.0) - (0.4 if s.recent_loss else 0.0)
    z += 0.8 if s.colleagues >= 2 else 0.3 if s.colleagues == 1 else 0.0
    return z


def fit_only(s: Signals) -> float:
    """The part of the latent score known when the lead is created (drives how hard reps work it)."""
    return (
        SENIORITY_EFFECT.get(s.level, 0.0)
        + size_effect(s.employees)
        + s.source_effect
        - (0.4 if s.freemail else 0)
    )


def calibrate(zs: Sequence[float], target: float) -> float:
    """The intercept at which the mean conversion probability of `zs` equals `target` (bisection)."""
    lo, hi = -15.0, 15.0
    for _ in range(40):
        mid = (lo + hi) / 2
        mean = sum(sigmoid(z + mid) for z in zs) / max(len(zs), 1)
        if mean < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """ROC AUC by ranks (ties share their average rank); 0.5 if a class is missing."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    pos = sum(1 for y in labels if y)
    neg = len(labels) - pos
    if not pos or not neg:
        return 0.5
    rank_sum = sum(r for r, y in zip(ranks, labels, strict=True) if y)
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)
