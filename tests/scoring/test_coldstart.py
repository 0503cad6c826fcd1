"""Cold start: rule-based points, the switch to the model, and rule-based reasons."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mappings import FeatureSpec, ScoringConfig
from scoring.coldstart import RULE_NOTICE, RULE_PREFIX, label_counts, rule_points, rule_scores, use_model
from scoring.scorer import Scorer
from tests.scoring.model_fixtures import CONFIG, SPECS, head, lead_data


def test_switch_to_the_model_needs_enough_outcomes_of_each_kind() -> None:
    config = ScoringConfig(min_labels_per_class=200)
    assert not use_model(199, 5000, config)
    assert not use_model(5000, 199, config)
    assert use_model(200, 200, config)
    assert label_counts([1, 0, 0, None, float("nan"), True, False]) == (2, 3)


def test_points_by_value_ranges_and_booleans() -> None:
    data = pd.DataFrame(
        {
            "lead_source": pd.Categorical(["partner  referral", "Web", None, "Other"]),
            "employees": [5000.0, 200.0, 199.0, np.nan],
            "free_email": [1.0, 0.0, np.nan, 1.0],
        },
        index=["a", "b", "c", "d"],
    )
    points = rule_points(data, SPECS)
    assert list(points.loc["a"]) == [15.0, 15.0, -5.0]  # case and spacing do not matter
    assert list(points.loc["b"]) == [5.0, 10.0, 0.0]  # 200 is in [200, 1000)
    assert list(points.loc["c"]) == [0.0, 0.0, 0.0]
    assert rule_scores(points).tolist() == [25.0, 15.0, 0.0, 0.0]  # the sum, clipped at 0


def test_ranges_take_the_first_match_and_scores_clip_at_100() -> None:
    spec = FeatureSpec.model_validate(
        {
            "name": "n",
            "field": "N",
            "type": "number",
            "points": [{"min": 0, "points": 70}, {"min": 10, "points": 90}],
        }
    )
    points = rule_points(pd.DataFrame({"n": [20.0]}), [spec])
    assert points["n"].tolist() == [70.0]
    assert rule_scores(points * 2).tolist() == [100.0]


def test_rule_based_decisions_say_so_in_every_reason() -> None:
    frame, _ = lead_data(40)
    batch = Scorer(CONFIG, SPECS, None, crm="salesforce").score(head(frame, 40))
    points = rule_points(frame.data.iloc[:40], SPECS)
    scores = rule_scores(points)
    for decision in batch.decisions:
        assert decision.rule_based and decision.model_version == "rules"
        assert decision.score == round(scores[decision.lead_id])
        reasons = (*decision.reasons_up, *decision.reasons_down)
        assert all(r.text.startswith(RULE_PREFIX) for r in reasons)
        if reasons:
            assert decision.reasons_text.startswith(f"{RULE_NOTICE}:\n")
    partner = next(d for d in batch.decisions if any("Partner Referral" in r.text for r in d.reasons_up))
    assert f"{RULE_PREFIX}Lead source: Partner Referral, +15" in [r.text for r in partner.reasons_up]
