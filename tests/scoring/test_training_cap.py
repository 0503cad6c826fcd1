"""The training-row cap: a stratified sample of at most `max_rows` labelled leads, the same every time."""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.training import cap_rows, train
from tests.scoring.model_fixtures import CONFIG, lead_data, one_thread


@settings(max_examples=60, deadline=None)
@given(
    positives=st.integers(1, 400),
    negatives=st.integers(1, 400),
    max_rows=st.integers(2, 900),
    seed=st.integers(0, 3),
)
def test_cap_keeps_at_most_max_rows_and_both_outcomes_in_proportion(
    positives: int, negatives: int, max_rows: int, seed: int
) -> None:
    ids = [f"L{i}" for i in range(positives + negatives)]
    outcome = pd.Series([1] * positives + [0] * negatives, index=ids)
    kept = cap_rows(ids, outcome, max_rows, random_state=seed)
    assert len(set(kept)) == len(kept)
    assert set(kept) <= set(ids)
    assert kept == [i for i in ids if i in set(kept)]  # input order
    if len(ids) <= max_rows:
        assert kept == ids
        return
    assert len(kept) == max_rows
    share = positives / len(ids)
    kept_positives = int(outcome.loc[kept].sum())
    assert 1 <= kept_positives <= max_rows - 1
    assert abs(kept_positives - share * max_rows) <= 1
    assert kept == cap_rows(ids, outcome, max_rows, random_state=seed)


def test_train_fits_on_the_capped_sample() -> None:
    frame, outcome = lead_data(1200)
    with one_thread():
        capped = train(frame, outcome, CONFIG, max_rows=500, params={"max_iter": 20, "calibration_cv": 3})
        whole = train(frame, outcome, CONFIG, max_rows=None, params={"max_iter": 20, "calibration_cv": 3})
    assert capped.extra["training_rows"] == 500
    assert whole.extra["training_rows"] == 1200
    assert capped.extra["data_hash"] != whole.extra["data_hash"]
