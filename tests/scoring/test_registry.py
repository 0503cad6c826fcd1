"""Model registry: skops artifacts with checksums, champion/challenger, rollback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from mappings import ScoringConfig
from scoring.registry import (
    ModelRegistry,
    RegistryError,
    TamperedArtifact,
    file_sha256,
    list_models,
    promote_version,
    rollback_champion,
)
from scoring.training import model_inputs, predict, train
from tests.scoring.model_fixtures import CONFIG, lead_data, one_thread, trained_model


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


def test_save_and_load_give_identical_predictions_and_full_metadata(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    trained = trained_model()
    version = registry.save(trained, training_window={"from": "2026-01-01", "to": "2026-11-01"})
    loaded = registry.load(version)
    frame, _ = lead_data(200, seed=11)
    assert np.array_equal(predict(loaded, frame), predict(trained, frame))
    assert loaded.schema == trained.schema and loaded.version == version
    meta = registry.metadata(version)
    assert meta["sha256"] == file_sha256(tmp_path / "models" / version / "model.skops")
    assert {f["column"]: f["source"] for f in meta["features"]}["email_domain"] == "Email"
    assert meta["schema"]["categories"]["lead_source"][:2] == ["Web", "Partner Referral"]
    assert meta["label_counts"]["positive"] == trained.positives
    assert set(meta["libraries"]) >= {"scikit-learn", "shap", "skops", "numpy", "pandas", "python"}
    assert meta["training_window"] == {"from": "2026-01-01", "to": "2026-11-01"}
    assert len(meta["data_hash"]) == 64 and "drift_baseline" in loaded.extra
    assert meta["model"]["calibration"] in ("sigmoid", "isotonic")


def test_a_tampered_artifact_is_refused(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    version = registry.save(trained_model())
    path = tmp_path / "models" / version / "model.skops"
    recorded = registry.metadata(version)["sha256"]
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(TamperedArtifact) as info:
        registry.load(version)
    message = str(info.value)
    assert str(path) in message and recorded in message and file_sha256(path) in message


def test_untrusted_types_are_refused_even_with_a_matching_checksum(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    version = registry.save(trained_model())
    folder = tmp_path / "models" / version
    sio.dump(FunctionTransformer(func=print), folder / "model.skops")
    meta = json.loads((folder / "meta.json").read_text())
    meta["sha256"] = file_sha256(folder / "model.skops")
    (folder / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(TamperedArtifact, match=r"not trusted: builtins\.print"):
        registry.load(version)


def test_promotion_only_when_not_worse_and_rollback(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    frame, outcome = lead_data(1500)
    holdout, holdout_outcome = lead_data(600, seed=21)
    good = registry.save(trained_model())
    first = registry.promote_if_better(good, holdout, holdout_outcome)
    assert first.promoted and first.reason == "no champion yet" and registry.champion() == good
    shuffled = outcome.sample(frac=1.0, random_state=0).set_axis(outcome.index)
    bad = registry.save(train(frame, shuffled, CONFIG, params={"max_iter": 30}))
    refused = registry.promote_if_better(bad, holdout, holdout_outcome)
    assert not refused.promoted and "worse than" in refused.reason and registry.champion() == good
    again = registry.save(trained_model())
    same = registry.promote_if_better(again, holdout, holdout_outcome)
    assert same.promoted and registry.champion() == again
    assert rollback_champion(tmp_path) == good and registry.champion() == good
    with pytest.raises(RegistryError, match="no previous champion"):
        registry.rollback()
    promote_version(tmp_path, bad)
    listed = list_models(tmp_path)
    assert {m.version for m in listed} == {good, bad, again}
    assert [m.version for m in listed if m.champion] == [bad]
    with pytest.raises(RegistryError, match="no model version"):
        registry.promote("nope")


def test_loaded_champion_scores_like_the_original(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path)
    assert registry.load_champion() is None
    trained = trained_model("sigmoid")
    registry.promote(registry.save(trained))
    loaded = registry.load_champion()
    assert loaded is not None
    frame, _ = lead_data(100, seed=5)
    X = model_inputs(frame, loaded.schema)
    assert np.array_equal(loaded.model.raw_score(X), trained.model.raw_score(X))


def test_a_segmented_model_round_trips(tmp_path: Path) -> None:
    frame, outcome = lead_data(1200)
    segments = pd.Series(np.where(np.arange(1200) % 2 == 0, "smb", "enterprise"), index=frame.data.index)
    config = ScoringConfig.model_validate(
        {"min_labels_per_class": 100, "segments": [{"name": "smb", "when": "lead.employees < 50"}]}
    )
    trained = train(frame, outcome, config, segments=segments, params={"max_iter": 20, "calibration_cv": 3})
    registry = ModelRegistry(tmp_path)
    loaded = registry.load(registry.save(trained))
    assert registry.metadata(loaded.version)["model"]["segments"] == ["enterprise", "smb"]
    p = predict(loaded, frame, segments=segments)
    assert np.array_equal(p, predict(trained, frame, segments=segments))
