"""A model depends on the labelled data, not on the order the CRM returned the records in.

Salesforce's REST pages come sorted and Bulk API results do not, so the same org pulled either way
records its labels in different orders; the booster's early-stopping split is by position.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from scoring.features import build_features
from scoring.training import predict
from sync import feedback
from sync.state import StateStore
from tests.scoring.model_fixtures import one_thread
from tests.sync.feedback_support import NOW, SF, FakeWorld, context, trainable_world, with_graph


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    with one_thread():
        yield


def _trained(tmp_path: Path, world: FakeWorld, order: list[str]) -> tuple[dict[str, float], np.ndarray]:
    store = StateStore.open(f"sqlite:///{tmp_path / 'leadq.db'}", clock=lambda: NOW)
    try:
        ctx = context(store, tmp_path, "  drift: {min_auc: 0.51}")
        feedback.record_outcome_labels(ctx, SF, world, order, NOW)
        result = feedback.retrain(ctx, SF, world, NOW, reason="test")
        assert result.promoted
        champion = feedback.load_champion(ctx, SF)
        assert champion is not None
        people = [world.people[i] for i in sorted(world.people)]
        frame = build_features(people, graph=world.graph, features=ctx.mapping(SF).features, crm=SF, now=NOW)
        return result.metrics, np.asarray(predict(champion, frame))
    finally:
        store.close()


def test_the_same_labels_in_another_order_train_the_same_model(tmp_path: Path) -> None:
    world = trainable_world(3000, seed=3)
    ids = list(world.people)
    shuffled = [ids[i] for i in np.random.default_rng(5).permutation(len(ids))]
    other = with_graph({i: world.people[i] for i in shuffled})  # pulled in another order
    first_metrics, first = _trained(tmp_path / "sorted", world, sorted(ids))
    second_metrics, second = _trained(tmp_path / "shuffled", other, shuffled)
    assert first_metrics == second_metrics
    assert np.array_equal(first, second)
