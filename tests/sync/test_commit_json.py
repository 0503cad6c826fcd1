"""The commit's score-history rows (`explained_json`, frames read a column at a time) hold exactly what
`decision_json` makes of each lead through `ScoredBatch.previous`, whatever the frames' column types."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.decision import Decision, Reason
from scoring.scorer import ScoredBatch
from sync.commit import Commit, _score_record, decision_json, explained_json
from sync.pull import Pulled
from tests.sync.test_state_support import T0

FLOATS = st.one_of(st.floats(allow_infinity=False), st.just(float("nan")))
CELLS = st.one_of(
    st.none(), st.text(max_size=5), st.integers(-5, 5), st.booleans(), FLOATS,
    st.just(np.int64(3)), st.just(np.float64("nan")), st.just(datetime(2025, 1, 1, tzinfo=UTC)),
)  # fmt: skip
COLUMN_KINDS = st.sampled_from(["float", "int", "bool", "object"])


class _Clock:
    def now(self) -> datetime:
        return T0


def _column(draw: Any, kind: str, n: int) -> Any:
    if kind == "float":
        return np.array(draw(st.lists(FLOATS, min_size=n, max_size=n)), dtype=np.float64)
    if kind == "int":
        return np.array(draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n)), dtype=np.int64)
    if kind == "bool":
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    return pd.Series(draw(st.lists(CELLS, min_size=n, max_size=n)), dtype=object).to_numpy()


@st.composite
def batches(draw: Any) -> tuple[ScoredBatch, list[Decision]]:
    n = draw(st.integers(1, 7))
    ids = [f"00Q{i}" for i in range(n)]
    reason = Reason("src", "Label", "v", draw(FLOATS.filter(lambda f: f == f)), "Label: v")
    decisions = [
        Decision(i, "salesforce", k, "A", 0.5, (reason,), (), "t", scored_at=None if k % 2 else T0)
        for k, i in enumerate(ids)
    ]
    explained = draw(st.lists(st.sampled_from(ids), unique=True))
    sources = [f"s{k}" for k in range(draw(st.integers(0, 4)))]
    points = pd.DataFrame(
        {s: draw(st.lists(FLOATS, min_size=len(explained), max_size=len(explained))) for s in sources},
        index=pd.Index(explained, dtype=object),
        dtype=np.float64,
    )
    with_values = draw(st.lists(st.sampled_from(ids), unique=True))  # missing ones are reindexed as NaN
    values = pd.DataFrame(
        {s: _column(draw, draw(COLUMN_KINDS), len(with_values)) for s in sources},
        index=pd.Index(with_values, dtype=object),
    )
    return ScoredBatch(tuple(decisions), points, values), decisions


@settings(max_examples=150, deadline=None)
@given(batch=batches())
def test_score_rows_hold_what_decision_json_makes_of_each_lead(
    batch: tuple[ScoredBatch, list[Decision]],
) -> None:
    scored, decisions = batch
    c = Commit(
        "salesforce", "run", Pulled(), decisions, {"00Q0": "Lead"}, scored, triggers={"00Q1": "changed"}
    )
    explained = explained_json(scored, [d.lead_id for d in decisions])
    for d in decisions:
        record = _score_record(_Clock(), c, d, explained)  # type: ignore[arg-type]
        expected = {
            **decision_json(d, c.objects.get(d.lead_id, ""), scored),
            "trigger": c.triggers.get(d.lead_id),
        }
        # JSON text: NaN equals NaN, and 1, 1.0 and true stay apart.
        assert json.dumps(record.contributions) == json.dumps(expected)
        assert record.scored_at == (d.scored_at or T0)
    # Each row's dicts are its own: no two records share one.
    rows = [_score_record(_Clock(), c, d, explained).contributions for d in decisions]  # type: ignore[arg-type]
    assert len({id(r["points"]) for r in rows}) == len(rows)
