"""The scorer: frame in, decisions out (score, tier, reasons, changes), before policies."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mappings import ScoringConfig
from scoring.scorer import Scorer
from scoring.training import predict, train
from tests.scoring.model_fixtures import CONFIG, SPECS, head, lead_data, one_thread, trained_model


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


def test_decisions_carry_score_tier_probability_and_reasons() -> None:
    trained = replace(trained_model(), version="v1")
    frame, _ = lead_data(60, seed=4)
    batch = Scorer(CONFIG, SPECS, trained, crm="salesforce").score(frame)
    p = predict(trained, frame)
    for decision, expected in zip(batch.decisions, p, strict=True):
        assert decision.probability == pytest.approx(expected, abs=1e-12)
        assert decision.score == int(np.floor(100 * expected + 0.5))
        assert decision.tier == CONFIG.tiers.tier(decision.score)
        assert decision.model_version == "v1" and not decision.rule_based
        assert decision.crm == "salesforce" and decision.scored_at == frame.now
        assert decision.reasons_up or decision.reasons_down
        assert all(r.points > 0 for r in decision.reasons_up) and all(
            r.points < 0 for r in decision.reasons_down
        )


def test_only_the_requested_leads_are_explained() -> None:
    frame, _ = lead_data(30, seed=5)
    ids = list(frame.data.index[:3])
    batch = Scorer(CONFIG, SPECS, trained_model(), crm="salesforce").score(frame, explain=ids)
    explained = [d.lead_id for d in batch.decisions if d.reasons_text]
    assert explained == ids and list(batch.points.index) == ids
    everything = Scorer(CONFIG, SPECS, trained_model(), crm="salesforce").score(frame)
    assert [d.score for d in batch.decisions] == [d.score for d in everything.decisions]
    assert batch.previous(ids[0]) is not None and batch.previous(str(frame.data.index[10])) is None


def test_a_second_score_says_what_moved_since() -> None:
    scorer = Scorer(CONFIG, SPECS, trained_model(), crm="salesforce")
    frame, _ = lead_data(5, seed=6)
    first = scorer.score(frame)
    lead = first.decisions[0].lead_id
    previous = first.previous(lead)
    assert previous is not None
    later = head(frame, 5)
    visits = later.data["pricing_visits_30d"].to_numpy(copy=True)
    visits[0] += 6
    later.data["pricing_visits_30d"] = visits
    second = scorer.score(later, previous={lead: previous})
    decision = second.decisions[0]
    moved = decision.score - first.decisions[0].score
    assert moved > 0 and decision.changes
    assert decision.changes[0].startswith(f"+{moved} since 26 Nov: 6 more pricing page visits (30 days)")
    assert decision.reasons_text.startswith(decision.changes[0])
    unchanged = scorer.score(head(frame, 5), previous={lead: previous}).decisions[0]
    assert unchanged.changes == ()


def test_segments_route_to_their_model_and_are_recorded() -> None:
    frame, outcome = lead_data(1500)
    segments = pd.Series(np.where(np.arange(1500) % 3 == 0, "smb", "enterprise"), index=frame.data.index)
    config = ScoringConfig.model_validate(
        {"min_labels_per_class": 150, "segments": [{"name": "smb", "when": "lead.employees < 50"}]}
    )
    trained = train(frame, outcome, config, segments=segments, params={"max_iter": 40})
    batch = Scorer(config, SPECS, trained, crm="salesforce").score(head(frame, 6), segments=segments)
    assert [d.segment for d in batch.decisions] == ["smb", "enterprise", "enterprise"] * 2
    p = predict(trained, head(frame, 6), segments=segments)
    assert np.allclose([d.probability for d in batch.decisions], p)
