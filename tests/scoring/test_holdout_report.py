"""What training keeps of its holdout for the model report, through the registry, into the HTML."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from mappings.config.policy import Drift
from scoring.coldstart import rule_points, rule_scores
from scoring.metrics import auc, quality
from scoring.registry import ModelRegistry, TamperedArtifact
from scoring.report import NoHoldout, write_model_report
from scoring.training import TrainedModel, train
from tests.scoring.model_fixtures import CONFIG, SPECS, lead_data, one_thread, trained_model


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


@cache
def with_holdout() -> TrainedModel:
    frame, outcome = lead_data(1500)
    return train(frame, outcome, CONFIG, holdout=0.25, params={"max_iter": 40}, features=SPECS)


def test_training_keeps_the_holdout_figures_the_report_needs() -> None:
    trained = with_holdout()
    holdout = trained.extra["holdout"]
    assert trained.metrics is not None
    y, p = np.array(holdout["outcome"]), np.array(holdout["probability"])
    assert len(y) == len(p) == len(holdout["rules_score"]) == trained.metrics.n == 375
    assert set(np.unique(y)) == {0, 1} and ((p >= 0) & (p <= 1)).all()
    assert quality(y, p).auc == pytest.approx(trained.metrics.auc, abs=1e-4)
    # the rules-only baseline is the admin's points on the same leads, and it carries some signal
    frame, _ = lead_data(1500)
    every_rule_score = set(np.round(rule_scores(rule_points(frame.data, list(SPECS))).to_numpy(), 4))
    assert set(np.round(holdout["rules_score"], 4)) <= every_rule_score
    assert 0.55 < auc(y, np.array(holdout["rules_score"])) < trained.metrics.auc
    # SHAP summary by source label; the hidden email domain is never named
    importance = holdout["importance"]
    assert {"Lead source", "Pricing page visits (30 days)", "Colleagues engaged (30 days)"} <= set(importance)
    assert "Email domain" not in importance and all(v >= 0 for v in importance.values())
    assert max(importance, key=importance.__getitem__) in ("Lead source", "Pricing page visits (30 days)")
    drift = holdout["drift"]
    assert drift["rows"] == 375 and set(drift["columns"]) >= {"employees", "lead_source"}
    assert drift["score"] is not None and drift["score"] < 0.1  # a random holdout hardly drifts


def test_the_holdout_survives_the_registry_and_becomes_a_report(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    version = registry.save(with_holdout())
    assert registry.load(version).extra["holdout"] == with_holdout().extra["holdout"]
    info = registry.versions()[0]
    assert info.training_rows == 1125 and len(info.data_hash) == 64
    path = write_model_report(
        tmp_path / "r.html", registry.metadata(version), thresholds=Drift(psi_warn=1e-9)
    )
    text = path.read_text(encoding="utf-8")
    assert len(re.findall(r'src="data:image/png;base64,', text)) == 5
    assert "rules only" in text and version in text and "holdout vs training data" in text
    assert 'class="warn"' in text  # levels come from the thresholds given at report time


def test_a_model_without_holdout_has_no_report(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    version = registry.save(trained_model())
    with pytest.raises(NoHoldout, match=f"model {version} was trained without a holdout"):
        write_model_report(tmp_path / "r.html", registry.metadata(version))
    assert not (tmp_path / "r.html").exists()


def test_promote_and_rollback_refuse_a_tampered_artifact(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    first, second = registry.save(trained_model()), registry.save(with_holdout())
    registry.promote(first)
    registry.promote(second)
    path = tmp_path / "models" / first / "model.skops"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(TamperedArtifact, match="does not match"):
        registry.rollback()
    assert registry.champion() == second
    with pytest.raises(TamperedArtifact, match="does not match"):
        registry.promote(first)
    assert registry.champion() == second
