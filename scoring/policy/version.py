"""`policy_version`: a short stable hash of everything that decides a lead's policy outcome."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mappings.config.policy import ScoringConfig
from mappings.config.review import ReviewConfig
from scoring.policy.parse import canonical

VERSION_LENGTH = 12


def policy_version(scoring: ScoringConfig, review: ReviewConfig) -> str:
    """12 hex digits identifying the policies, segments, routing, decay, model actions, tiers and review
    triggers. Layout-only edits of an expression (spacing, line breaks, quote style) keep the version;
    any change of meaning, order or setting changes it."""
    document: dict[str, Any] = {
        "policies": [
            {**policy.model_dump(mode="json"), "when": canonical(policy.when)} for policy in scoring.policies
        ],
        "segments": [
            {**segment.model_dump(mode="json", exclude_none=True), "when": canonical(segment.when)}
            for segment in scoring.segments
        ],
        "routing": scoring.routing.model_dump(mode="json"),
        "decay": scoring.decay.model_dump(mode="json") if scoring.decay else None,
        "actions": scoring.actions.model_dump(mode="json"),
        "tiers": scoring.tiers.model_dump(mode="json"),
        "review": {
            "enabled": review.enabled,
            "borderline": list(review.borderline),
            "high_value": canonical(review.high_value) if review.high_value else None,
            "min_completeness": review.min_completeness,
        },
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:VERSION_LENGTH]
