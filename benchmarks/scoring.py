"""Scoring and explanation throughput: 100k leads through `scoring.scorer.Scorer`, on both cores.

The model is trained on the X Education leads (pulled from a sandbox as in `benchmarks.quality`); the
frame is those leads repeated to `--leads` rows with the numbers jittered, so every lead differs.
Three timed passes over the whole frame, each split over `--workers` forked processes:

* score: decisions without explanations (`explain=[]`): conform, predict, tier;
* full: decisions with reasons (exact TreeSHAP, grouping by source, sentences); explanation time is
  full minus score;
* baseline: the same full pass on a part of the frame with a model about 4x larger (more and
  deeper trees), to show what TreeSHAP's trees x leaves x depth^2 cost does to explanation speed;
* TreeSHAP alone on that part, in one process: leadq's per-tree cells (`scoring.treeshap_cells`) against
  shap's own per-row recursion on the same trees (the values agree to 1e-10; the ratio is the speed-up).

    .venv/bin/python -m benchmarks.scoring [--leads 100000] [--workers 2]

Prints a table, then one JSON line:
{"score_per_s": ..., "explain_per_s": ..., "total_s": ..., "baseline_ratio": ..., "treeshap_speedup": ...}.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from benchmarks.quality import DATASETS, feature_frame, pull_leads
from mappings import FeatureSpec, ScoringConfig
from scoring.features import FeatureFrame
from scoring.model import LeadModel
from scoring.scorer import Scorer
from scoring.training import TrainedModel, model_inputs, train
from scoring.treeshap import TreeShap

SEED = 0
_WORK: dict[str, object] = {}  # what forked workers read (set before the pool starts)


def tiled(frame: FeatureFrame, n: int, seed: int) -> FeatureFrame:
    """`frame` repeated to `n` rows, numbers jittered by up to +-20 %, new lead ids."""
    rng = np.random.default_rng(seed)
    reps = -(-n // len(frame.data))
    data = pd.concat([frame.data] * reps).iloc[:n].copy()
    for name in data.columns:
        if not isinstance(data[name].dtype, pd.CategoricalDtype) and frame.columns[name].kind == "number":
            data[name] = np.round(data[name].to_numpy() * rng.uniform(0.8, 1.2, size=n))
    index = pd.Index([f"00Q{i:012d}" for i in range(n)], dtype=object)
    data.index = index
    context = pd.concat([frame.context] * reps).iloc[:n].set_axis(index)
    completeness = pd.Series(np.tile(frame.completeness.to_numpy(), reps)[:n], index=index)
    return FeatureFrame(data, frame.columns, context, completeness, frame.now)


def _part(frame: FeatureFrame, rows: np.ndarray) -> FeatureFrame:
    ids = frame.data.index[rows]
    return FeatureFrame(
        frame.data.iloc[rows], frame.columns, frame.context.loc[ids], frame.completeness.iloc[rows], frame.now
    )


def _work(task: tuple[str, np.ndarray, bool]) -> tuple[int, int]:
    name, rows, explain = task
    scorer = _WORK[name]
    frame = _WORK["frame"]
    assert isinstance(scorer, Scorer) and isinstance(frame, FeatureFrame)
    with threadpool_limits(limits=1, user_api="openmp"):
        batch = scorer.score(_part(frame, rows), explain=None if explain else [])
    return len(batch.decisions), sum(len(d.reasons_text) for d in batch.decisions)


def timed(name: str, rows: np.ndarray, explain: bool, workers: int) -> tuple[float, int]:
    """Wall time of scoring `rows` with `_WORK[name]` over `workers` forked processes."""
    parts = [(name, chunk, explain) for chunk in np.array_split(rows, workers)]
    started = time.perf_counter()
    if workers == 1:
        results = [_work(parts[0])]
    else:
        with mp.get_context("fork").Pool(workers) as pool:
            results = pool.map(_work, parts)
    elapsed = time.perf_counter() - started
    assert sum(n for n, _ in results) == len(rows)
    return elapsed, sum(chars for _, chars in results)


@dataclass(frozen=True)
class Sized:
    trees: int
    leaves: int
    depth: int


def size(trained: TrainedModel) -> Sized:
    model = trained.model
    assert isinstance(model, LeadModel)
    predictors = [p for (p,) in model.booster_._predictors]
    return Sized(
        len(predictors),
        sum(p.get_n_leaf_nodes() for p in predictors),
        max(p.get_max_depth() for p in predictors),
    )


def treeshap_seconds(trained: TrainedModel, frame: FeatureFrame) -> tuple[float, float, float]:
    """Seconds of leadq's TreeSHAP and of shap's on the same rows, and the largest difference."""
    model = trained.model
    assert isinstance(model, LeadModel)
    X = model.prepare(model_inputs(frame, trained.schema))
    explainer = TreeShap(model.booster_)
    with threadpool_limits(limits=1, user_api="openmp"):
        started = time.perf_counter()
        ours = explainer.shap_values(X)
        ours_s = time.perf_counter() - started
        started = time.perf_counter()
        theirs = explainer.shap_values_reference(X)
        theirs_s = time.perf_counter() - started
    return ours_s, theirs_s, float(np.abs(ours - theirs).max())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-leads", type=int, default=20_000)
    args = parser.parse_args()
    console = Console(width=120)
    dataset = DATASETS[0]
    with tempfile.TemporaryDirectory() as tmp:
        leads, config, _ = pull_leads(dataset, Path(tmp))
    assert config.salesforce is not None
    specs: Sequence[FeatureSpec] = config.salesforce.features
    source = feature_frame(leads, specs, dataset.now)
    outcome = pd.Series([int(lead.is_converted) for lead in leads], index=source.data.index)
    scoring = ScoringConfig()
    with threadpool_limits(limits=1, user_api="openmp"):
        model = train(source, outcome, scoring, random_state=SEED)
        large = train(
            source, outcome, scoring, random_state=SEED,
            params={"max_leaf_nodes": 31, "max_depth": 6, "early_stopping": False, "max_iter": 2 * size(model).trees},
        )  # fmt: skip
    frame = tiled(source, args.leads, SEED)
    _WORK.update(
        frame=frame,
        model=Scorer(scoring, specs, model, crm="salesforce", max_chars=32768),
        large=Scorer(scoring, specs, large, crm="salesforce", max_chars=32768),
    )
    rows = np.arange(args.leads)
    _work(("model", rows[:200], True))  # warm up (imports, first explainer build) before forking
    _work(("large", rows[:200], True))
    score_s, _ = timed("model", rows, explain=False, workers=args.workers)
    full_s, chars = timed("model", rows, explain=True, workers=args.workers)
    sample = rows[: args.baseline_leads]
    small_sample_s, _ = timed("model", sample, explain=True, workers=args.workers)
    large_sample_s, _ = timed("large", sample, explain=True, workers=args.workers)
    cells_s, shap_s, difference = treeshap_seconds(model, _part(frame, sample))
    explain_s = max(full_s - score_s, 1e-9)
    small, big = size(model), size(large)
    table = Table(title=f"Scoring {args.leads:,} leads on {args.workers} worker(s)")
    for column in ("pass", "model (trees / leaves / depth)", "leads", "seconds", "leads/s"):
        table.add_column(column, justify="left" if column == "pass" else "right")
    shape = f"{small.trees} / {small.leaves:,} / {small.depth}"
    table.add_row(
        "score (no explanations)", shape, f"{args.leads:,}", f"{score_s:.2f}", f"{args.leads / score_s:,.0f}"
    )
    table.add_row(
        "explain (full - score)",
        shape,
        f"{args.leads:,}",
        f"{explain_s:.2f}",
        f"{args.leads / explain_s:,.0f}",
    )
    table.add_row("score + explain", shape, f"{args.leads:,}", f"{full_s:.2f}", f"{args.leads / full_s:,.0f}")
    table.add_row(
        "baseline: ours",
        shape,
        f"{len(sample):,}",
        f"{small_sample_s:.2f}",
        f"{len(sample) / small_sample_s:,.0f}",
    )
    table.add_row(
        "baseline: 4x larger model", f"{big.trees} / {big.leaves:,} / {big.depth}", f"{len(sample):,}",
        f"{large_sample_s:.2f}", f"{len(sample) / large_sample_s:,.0f}",
    )  # fmt: skip
    table.add_row("TreeSHAP alone: shap's recursion", shape, f"{len(sample):,}", f"{shap_s:.2f}",
                  f"{len(sample) / shap_s:,.0f}")  # fmt: skip
    table.add_row("TreeSHAP alone: leadq's cells", shape, f"{len(sample):,}", f"{cells_s:.2f}",
                  f"{len(sample) / cells_s:,.0f}")  # fmt: skip
    console.print(table)
    console.print(
        f"TreeSHAP: cells {shap_s / cells_s:.1f}x faster than shap's recursion, largest difference {difference:.1e}"
    )
    console.print(
        f"larger model: {big.leaves / small.leaves:.1f}x the leaves, {large_sample_s / small_sample_s:.1f}x the time "
        f"to score and explain; reasons text: {chars / args.leads:.0f} characters a lead"
    )
    summary = {
        "score_per_s": round(args.leads / score_s),
        "explain_per_s": round(args.leads / explain_s),
        "total_s": round(full_s, 2),
        "baseline_ratio": round(large_sample_s / small_sample_s, 2),
        "treeshap_speedup": round(shap_s / cells_s, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
