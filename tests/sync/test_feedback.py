"""The feedback loop: outcome labels per label kind, label bookkeeping, retrain triggers, champion/challenger
on a real store and registry, and drift."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings import Contact, Opportunity
from mappings.config.crm import (
    ConvertedLabel,
    ConvertedOpportunityWonLabel,
    LifecycleStageLabel,
    WonDealLabel,
)
from scoring.registry import ModelRegistry
from scoring.training import predict
from sync import feedback
from sync.context import CycleContext
from sync.feedback_labels import AUDIT_EACH_UP_TO
from sync.state import StateStore
from tests.scoring.model_fixtures import lead_data, one_thread, trained_model
from tests.sync.feedback_support import (
    HS,
    NOW,
    OLD,
    SF,
    YOUNG,
    FakeWorld,
    contact,
    context,
    lead,
    shuffled_training_part,
    trainable_world,
    with_graph,
)


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(f"sqlite:///{tmp_path / 'state' / 'leadq.db'}", clock=lambda: NOW)
    yield opened
    opened.close()


# ---- label kinds ------------------------------------------------------------------------------------

ages = st.integers(min_value=0, max_value=400)


@given(converted=st.booleans(), age=ages, days=st.integers(min_value=1, max_value=365))
def test_converted_label(converted: bool, age: int, days: int) -> None:
    config = ConvertedLabel(kind="converted", negative_after_days=days)
    person = lead("00Q1", created=NOW - timedelta(days=age), is_converted=converted)
    expected = 1 if converted else (0 if age > days else None)
    assert feedback.outcome_label(SF, config, person, {}, NOW) == expected
    # Contacts carry no conversion outcome in Salesforce; their converted lead does.
    assert feedback.outcome_label(SF, config, Contact(crm=SF, id="003", created_at=OLD), {}, NOW) is None


def test_converted_label_without_a_creation_date_is_unknown_until_converted() -> None:
    config = ConvertedLabel(kind="converted")
    assert feedback.outcome_label(SF, config, lead("a", created=None), {}, NOW) is None
    assert feedback.outcome_label(SF, config, lead("a", created=None, is_converted=True), {}, NOW) == 1


@given(
    converted=st.booleans(),
    old=st.booleans(),
    deal=st.sampled_from(["none", "missing", "open", "won", "lost"]),
)
def test_converted_opportunity_won_label(converted: bool, old: bool, deal: str) -> None:
    config = ConvertedOpportunityWonLabel(kind="converted_opportunity_won")
    opportunities = {
        "006open": Opportunity(crm=SF, id="006open"),
        "006won": Opportunity(crm=SF, id="006won", is_won=True, is_closed=True),
        "006lost": Opportunity(crm=SF, id="006lost", is_closed=True),
    }
    opportunity_id = None if deal == "none" else f"006{deal}"
    person = lead("00Q1", created=OLD if old else YOUNG, is_converted=converted,
                  converted_opportunity_id=opportunity_id if converted else None)  # fmt: skip
    if not converted or deal == "none":
        expected = 0 if old else None
    else:
        expected = {"missing": None, "open": None, "won": 1, "lost": 0}[deal]
    assert feedback.outcome_label(SF, config, person, opportunities, NOW) == expected


@given(converted=st.booleans(), old=st.booleans())
def test_lifecycle_stage_label(converted: bool, old: bool) -> None:
    # The HubSpot translator sets is_converted exactly when lifecyclestage is one of the label's stages.
    config = LifecycleStageLabel(kind="lifecycle_stage")
    person = contact("101", created=OLD if old else YOUNG, is_converted=converted)
    expected = 1 if converted else (0 if old else None)
    assert feedback.outcome_label(HS, config, person, {}, NOW) == expected


@given(
    link=st.sampled_from(["contact", "account", "other_account", "none"]),
    won=st.booleans(),
    closed=st.booleans(),
    old=st.booleans(),
)
def test_won_deal_label(link: str, won: bool, closed: bool, old: bool) -> None:
    config = WonDealLabel(kind="won_deal")
    deal = Opportunity(
        crm=HS, id="d1", is_won=won, is_closed=closed or won,
        contact_ids=("101",) if link == "contact" else ("999",),
        account_id={"account": "c1", "other_account": "c2"}.get(link),
    )  # fmt: skip
    person = contact("101", created=OLD if old else YOUNG, account_id="c1")
    if won and link in ("contact", "account"):
        expected: int | None = 1
    elif link == "contact" and closed:
        expected = 0  # an associated deal closed lost, none won
    else:
        expected = 0 if old else None
    assert feedback.outcome_label(HS, config, person, {"d1": deal}, NOW) == expected


# ---- label bookkeeping ------------------------------------------------------------------------------


def test_record_outcome_labels_adds_once_and_again_only_on_change(store: StateStore, tmp_path: Path) -> None:
    ctx = context(store, tmp_path)
    world = FakeWorld({"A": lead("A", is_converted=True), "B": lead("B"), "C": lead("C", created=YOUNG)})
    assert feedback.record_outcome_labels(ctx, SF, world, ["A", "B", "C", "gone"], NOW) == 2
    assert {(x.lead_id, x.label, x.source) for x in store.labels(SF)} == {
        ("A", 1, "outcome"),
        ("B", 0, "outcome"),
    }
    assert feedback.record_outcome_labels(ctx, SF, world, ["A", "B", "C"], NOW) == 0
    world.people["B"] = replace(world.people["B"], is_converted=True)
    assert feedback.record_outcome_labels(ctx, SF, world, ["A", "B"], NOW + timedelta(hours=1)) == 1
    latest = store.labels(SF)[-1]
    assert (latest.lead_id, latest.label, latest.detail) == ("B", 1, {"kind": "converted", "previous": 0})
    added = [e for e in store.audit_export() if e["action"] == "label_added"]
    assert [(e["record_id"], e["old"], e["new"]) for e in added] == [
        ("A", None, 1),
        ("B", None, 0),
        ("B", 0, 1),
    ]
    assert {e["object"] for e in added} == {"Lead"}


def test_a_backfill_is_audited_as_one_entry_with_counts(store: StateStore, tmp_path: Path) -> None:
    ctx = context(store, tmp_path)
    n = AUDIT_EACH_UP_TO + 1
    world = FakeWorld({f"L{i}": lead(f"L{i}", is_converted=i < 300) for i in range(n)})
    assert feedback.record_outcome_labels(ctx, SF, world, list(world.people), NOW) == n
    assert len(store.labels(SF)) == n
    entries = [e for e in store.audit_export() if e["action"].startswith("label")]
    assert [(e["action"], e["new"], e["detail"]["positive"]) for e in entries] == [("labels_added", n, 300)]


def test_training_labels_merge_review_labels_for_people_without_outcome(
    store: StateStore, tmp_path: Path
) -> None:
    ctx = context(store, tmp_path)
    world = FakeWorld({"A": lead("A", is_converted=True), "B": lead("B"), "C": lead("C", created=YOUNG),
                       "D": lead("D", created=YOUNG)})  # fmt: skip
    store.add_label(SF, "A", 0, "review", at=NOW)  # the outcome wins over a reviewer's opinion
    store.add_label(SF, "C", 0, "review", at=NOW - timedelta(days=2))
    store.add_label(SF, "C", 1, "review", at=NOW - timedelta(days=1))  # the latest review wins
    store.add_label(SF, "Z", 1, "review", at=NOW)  # not in the world: no features to train on
    labels = feedback.training_labels(ctx, SF, world, NOW)
    assert labels.to_dict() == {"A": 1, "B": 0, "C": 1}
    assert labels.dtype == np.int64


# ---- retrain triggers ---------------------------------------------------------------------------------


def add_labels(store: StateStore, count: int, *, start: int = 0, at: datetime = NOW) -> None:
    for i in range(start, start + count):
        store.add_label(SF, f"L{i}", i % 2, "outcome", at=at)


def install_champion(ctx: CycleContext, trained_at: datetime) -> str:
    registry = ModelRegistry(ctx.state_dir / SF)
    version = registry.save(trained_model())
    registry.promote(version)
    high_water = max((x.id for x in ctx.store.labels(SF)), default=0)
    ctx.store.register_model(version, SF, "all", str(registry.root / version), role="champion",
                             metrics={"auc": 0.8, "label_high_water": high_water}, created_at=trained_at)  # fmt: skip
    return version


def test_should_retrain_without_champion_waits_for_enough_labels(store: StateStore, tmp_path: Path) -> None:
    ctx = context(store, tmp_path, "  retrain: {schedule: null}")
    add_labels(store, 99)  # 49 positive, 50 negative
    assert feedback.should_retrain(ctx, SF, NOW) is None
    add_labels(store, 1, start=99)
    reason = feedback.should_retrain(ctx, SF, NOW)
    assert reason is not None and "no model yet" in reason and "50 positive and 50 negative" in reason


def test_should_retrain_after_n_new_labels(store: StateStore, tmp_path: Path) -> None:
    ctx = context(store, tmp_path, "  retrain: {every_n_labels: 10, schedule: null}")
    add_labels(store, 120, at=NOW - timedelta(days=3))
    install_champion(ctx, NOW - timedelta(days=2))
    assert feedback.should_retrain(ctx, SF, NOW) is None
    add_labels(store, 9, start=500)
    assert feedback.should_retrain(ctx, SF, NOW) is None
    add_labels(store, 1, start=600)
    reason = feedback.should_retrain(ctx, SF, NOW)
    assert reason is not None and reason.startswith("10 new labels")


def test_should_retrain_when_the_cron_fired_since_the_last_training(
    store: StateStore, tmp_path: Path
) -> None:
    add_labels(store, 120, at=NOW - timedelta(days=3))
    daily = context(store, tmp_path, "  retrain: {every_n_labels: 1000, schedule: '0 3 * * *'}")
    install_champion(daily, NOW - timedelta(days=2))
    reason = feedback.should_retrain(daily, SF, NOW)
    assert reason is not None and "scheduled retrain" in reason and "'0 3 * * *'" in reason
    # Every January 1st: has not fired between June 10th and June 12th in any time zone.
    yearly = context(store, tmp_path, "  retrain: {every_n_labels: 1000, schedule: '0 0 1 1 *'}")
    assert feedback.should_retrain(yearly, SF, NOW) is None


# ---- retrain, champion/challenger -------------------------------------------------------------------


def actions(store: StateStore) -> list[str]:
    return [e["action"] for e in store.audit_export() if e["action"].startswith("model_")]


def test_retrain_promotes_the_first_model_and_keeps_it_against_a_worse_challenger(
    store: StateStore, tmp_path: Path
) -> None:
    ctx = context(store, tmp_path, "  drift: {min_auc: 0.51}")
    world = trainable_world()
    feedback.record_outcome_labels(ctx, SF, world, list(world.people), NOW)
    reason = feedback.should_retrain(ctx, SF, NOW)
    assert reason is not None

    first = feedback.retrain(ctx, SF, world, NOW, reason=reason)
    assert first.promoted and first.version is not None and first.reason == "no champion yet"
    assert first.metrics["auc"] > 0.75 and sum(first.labels) == len(world.people)
    registry = ModelRegistry(ctx.state_dir / SF)
    assert registry.champion() == first.version
    champion_entry = store.champion(SF, "all")
    assert champion_entry is not None and champion_entry.version == first.version
    loaded = feedback.load_champion(ctx, SF)
    assert loaded is not None and loaded.version == first.version and "holdout" in loaded.extra
    assert feedback.should_retrain(ctx, SF, NOW + timedelta(minutes=5)) is None  # nothing new since

    worse = feedback.retrain(ctx, SF, shuffled_training_part(world), NOW + timedelta(days=1), reason="test")
    assert not worse.promoted and worse.version not in (None, first.version)
    assert "worse than the champion" in worse.reason and worse.metrics["auc"] < worse.metrics["champion_auc"]
    assert registry.champion() == first.version
    champion_entry = store.champion(SF, "all")
    assert champion_entry is not None and champion_entry.version == first.version
    assert {e.version: e.role for e in store.models(SF)} == {
        first.version: "champion",
        worse.version: "challenger",
    }
    assert actions(store) == ["model_trained", "model_promoted", "model_trained", "model_kept_champion"]
    # A challenger that lost is not retrained every cycle on the same labels.
    assert feedback.should_retrain(ctx, SF, NOW + timedelta(days=1, minutes=5)) is None


def test_first_model_below_min_auc_is_not_promoted(store: StateStore, tmp_path: Path) -> None:
    ctx = context(store, tmp_path, "  drift: {min_auc: 0.99}")
    result = feedback.retrain(ctx, SF, trainable_world(), NOW, reason="test")
    assert not result.promoted and result.version is not None and "min_auc 0.99" in result.reason
    assert ModelRegistry(ctx.state_dir / SF).champion() is None and store.champion(SF, "all") is None
    assert feedback.load_champion(ctx, SF) is None


def test_a_model_too_good_to_be_true_is_not_promoted(store: StateStore, tmp_path: Path) -> None:
    ctx = context(store, tmp_path)
    world = trainable_world()
    leaked = {i: replace(p, fields={**p.fields, "rating": "Hot" if p.is_converted else "Cold"})
              for i, p in world.people.items()}  # fmt: skip
    result = feedback.retrain(ctx, SF, with_graph(leaked), NOW, reason="test")
    assert not result.promoted and result.metrics["auc"] >= 0.98
    assert "too good to be true" in result.reason and "'Rating'" in result.reason
    assert ModelRegistry(ctx.state_dir / SF).champion() is None


def test_retrain_with_too_few_labels_says_so(store: StateStore, tmp_path: Path) -> None:
    ctx = context(store, tmp_path)
    world = with_graph({f"L{i}": lead(f"L{i}", is_converted=i < 10) for i in range(80)})
    result = feedback.retrain(ctx, SF, world, NOW, reason="test")
    assert (result.version, result.promoted, result.labels) == (None, False, (10, 70))
    assert "10 positive and 70 negative" in result.reason and "needs 50 of each" in result.reason
    assert store.models(SF) == [] and actions(store) == ["model_not_trained"]


# ---- drift --------------------------------------------------------------------------------------------


def test_measure_drift_flags_a_shifted_feature(
    store: StateStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = context(store, tmp_path)
    trained = trained_model()
    frame, _ = lead_data()
    scores = 100 * predict(trained, frame)
    assert feedback.measure_drift(ctx, SF, None, frame.data, scores) == {}

    steady = feedback.measure_drift(ctx, SF, trained, frame.data, scores)
    assert steady["level"] == "ok" and steady["drifted"] == [] and steady["score_psi"] < 0.01
    assert set(steady["columns"]) >= {"employees", "lead_source"}

    shifted = frame.data.assign(employees=frame.data["employees"] * 100)
    with caplog.at_level(logging.WARNING, logger="leadq.drift"):
        drifted = feedback.measure_drift(ctx, SF, trained, shifted, scores)
    assert drifted["level"] == "alert" and drifted["drifted"] == ["employees"]
    assert drifted["columns"]["employees"] >= ctx.config.scoring.drift.psi_alert
    assert any("employees" in r.getMessage() for r in caplog.records if r.name == "leadq.drift")
    alerts = [e for e in store.audit_export() if e["action"] == "drift_alert"]
    assert len(alerts) == 1 and alerts[0]["detail"]["alerting"] == ["employees"]

    few = feedback.measure_drift(ctx, SF, trained, shifted.iloc[:20], scores[:20])
    assert few["judged"] is False and few["level"] == "ok" and few["columns"]["employees"] > 0.25
