"""The model report: one self-contained HTML file (plots embedded as base64 PNG), for admins.

    write_report("report.html", outcome=y, probability=p, rules_score=rules, importance=mean_abs_points,
                 drift=drift_report(...), model_info={"version": ..., "calibration": ...})
    write_model_report("report.html", registry.metadata(version), thresholds=config.scoring.drift)

Sections: quality figures (model next to the rules-only baseline), calibration curve, ROC, lift, score
distribution by outcome, mean |contribution| per source (SHAP summary, in score points), drift table.
Plots are drawn with matplotlib's object API on the Agg canvas (no pyplot, no display). This module
only renders what it is given; the figures come from `scoring.metrics`. `write_model_report` takes them
from a stored model's metadata (what `scoring.training.holdout_evaluation` kept of its holdout).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from sklearn.calibration import calibration_curve
from sklearn.metrics import roc_curve

from mappings.config.policy import Drift
from scoring.drift import SCORE, ColumnDrift, DriftReport, Level
from scoring.metrics import ECE_BINS, lift_curve, quality

__all__ = ["NoHoldout", "write_model_report", "write_report"]

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.warn{background:#fff4d6}
.alert{background:#ffd9d9}figure{display:inline-block;margin:0.5em}img{max-width:520px}"""


class NoHoldout(ValueError):
    """A stored model without holdout predictions: there is nothing to plot."""


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _plot(title: str, draw: Any) -> str:
    figure = Figure(figsize=(5.5, 4))
    axes: Axes = figure.add_subplot()
    draw(axes)
    axes.set_title(title)
    return f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{_png(figure)}"></figure>'


def _table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        f'<tr class="{(classes or [""] * len(rows))[i]}">'
        + "".join(f"<td>{html.escape(c)}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(rows)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_report(
    path: Path | str,
    *,
    outcome: npt.ArrayLike,
    probability: npt.ArrayLike,
    rules_score: npt.ArrayLike | None = None,
    importance: Mapping[str, float] | None = None,
    drift: DriftReport | None = None,
    model_info: Mapping[str, Any] | None = None,
    title: str = "leadq model report",
    drift_source: str = "",
) -> Path:
    """Write the report to `path` and return it.

    `outcome`/`probability`: holdout outcomes (0/1) and calibrated probabilities; `rules_score`: the
    rules-only scores (0-100) of the same leads; `importance`: mean |points| per source; `drift_source`
    says what the drift compares ("holdout vs training data").
    """
    y = np.asarray(outcome, dtype=np.float64)
    p = np.asarray(probability, dtype=np.float64)
    rules = np.asarray(rules_score, dtype=np.float64) / 100.0 if rules_score is not None else None
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>"]
    if model_info:
        parts.append(_table(["model", ""], [[str(k), str(v)] for k, v in model_info.items()]))
    parts.append("<h2>Quality on the holdout</h2>" + _quality_table(y, p, rules))
    parts.append("<h2>Plots</h2>")
    parts.extend(
        [
            _plot("Calibration", lambda ax: _calibration(ax, y, p)),
            _plot("ROC", lambda ax: _roc(ax, y, p, rules)),
            _plot("Lift", lambda ax: _lift(ax, y, p, rules)),
            _plot("Score distribution by outcome", lambda ax: _distribution(ax, y, p)),
        ]
    )
    if importance:
        parts.append(
            _plot("Mean |contribution| by source (score points)", lambda ax: _importance(ax, importance))
        )
    if drift is not None:
        parts.append(_drift_section(drift, drift_source))
    document = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )
    target = Path(path)
    target.write_text(document, encoding="utf-8")
    return target


def _quality_table(
    y: npt.NDArray[np.float64], p: npt.NDArray[np.float64], rules: npt.NDArray[np.float64] | None
) -> str:
    rows = [("model", quality(y, p))]
    if rules is not None:
        rows.append(("rules only", quality(y, rules)))
    return _table(
        ["scoring", "ROC AUC", "ECE", "Brier", "lift (top 10 %)", "leads", "positives"],
        [
            [
                name,
                f"{q.auc:.4f}",
                f"{q.ece:.4f}",
                f"{q.brier:.4f}",
                f"{q.lift_top_decile:.2f}",
                str(q.n),
                str(q.positives),
            ]
            for name, q in rows
        ],
    )


def _calibration(axes: Axes, y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> None:
    observed, predicted = calibration_curve(y, p, n_bins=ECE_BINS, strategy="uniform")
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    axes.plot(predicted, observed, marker="o", label="model")
    axes.set_xlabel("predicted probability")
    axes.set_ylabel("observed rate")
    axes.legend()


def _roc(
    axes: Axes, y: npt.NDArray[np.float64], p: npt.NDArray[np.float64], rules: npt.NDArray[np.float64] | None
) -> None:
    for name, scores in (("model", p), ("rules only", rules)):
        if scores is not None:
            fpr, tpr, _ = roc_curve(y, scores)
            axes.plot(fpr, tpr, label=name)
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.legend()


def _lift(
    axes: Axes, y: npt.NDArray[np.float64], p: npt.NDArray[np.float64], rules: npt.NDArray[np.float64] | None
) -> None:
    for name, scores in (("model", p), ("rules only", rules)):
        if scores is not None:
            shares, lifts = lift_curve(y, scores)
            axes.plot(100 * shares, lifts, marker="o", label=name)
    axes.axhline(1.0, linestyle="--", color="grey")
    axes.set_xlabel("top % of leads by score")
    axes.set_ylabel("lift over the average")
    axes.legend()


def _distribution(axes: Axes, y: npt.NDArray[np.float64], p: npt.NDArray[np.float64]) -> None:
    bins = [5.0 * k for k in range(21)]
    axes.hist(100 * p[y == 1], bins=bins, alpha=0.6, label="converted")
    axes.hist(100 * p[y == 0], bins=bins, alpha=0.6, label="not converted")
    axes.set_xlabel("score")
    axes.set_ylabel("leads")
    axes.legend()


def _importance(axes: Axes, importance: Mapping[str, float]) -> None:
    ranked = sorted(importance.items(), key=lambda item: item[1])[-15:]
    axes.barh([name for name, _ in ranked], [value for _, value in ranked])
    axes.set_xlabel("mean |points|")


def _drift_section(drift: DriftReport, source: str = "") -> str:
    entries = [*drift.columns, *((drift.score,) if drift.score else ())]
    ranked = sorted(entries, key=lambda c: -c.psi)
    table = _table(
        ["column", "PSI", "level"],
        [[c.name, f"{c.psi:.4f}", c.level] for c in ranked],
        [c.level for c in ranked],
    )
    return (
        f"<h2>Drift (PSI, {drift.rows} leads{'; ' + html.escape(source) if source else ''}; "
        f"warn at {drift.warn}, alert at {drift.alert})</h2>"
        f"<p>Overall: {drift.level}</p>{table}"
    )


def write_model_report(
    path: Path | str, meta: Mapping[str, Any], *, thresholds: Drift | None = None, title: str | None = None
) -> Path:
    """The report of a stored model from its registry metadata (`ModelRegistry.metadata`).

    Raises `NoHoldout` when the model was trained without a holdout (nothing to measure it on).
    """
    holdout = meta.get("holdout")
    if not isinstance(holdout, Mapping) or not holdout.get("outcome"):
        raise NoHoldout(
            f"model {meta.get('version', '?')} was trained without a holdout, so its report has nothing to "
            "plot; retrain it with a holdout share (train(..., holdout=0.2))"
        )
    limits = thresholds or Drift()
    stored = holdout.get("drift") or {}
    drift = None
    if stored.get("columns") or stored.get("score") is not None:
        columns = tuple(
            ColumnDrift(name, float(value), _level(float(value), limits))
            for name, value in stored.get("columns", {}).items()
        )
        score = stored.get("score")
        drift = DriftReport(
            columns,
            ColumnDrift(SCORE, float(score), _level(float(score), limits)) if score is not None else None,
            limits.psi_warn,
            limits.psi_alert,
            int(stored.get("rows", len(holdout["outcome"]))),
        )
    counts = meta.get("label_counts", {})
    model = meta.get("model", {})
    info = {
        "version": meta.get("version", ""),
        "created": meta.get("created", ""),
        "model": model.get("kind", ""),
        "calibration": model.get("calibration", ""),
        "segments": ", ".join(model.get("segments", [])) or "none",
        "training rows": meta.get("training_rows", ""),
        "labels (positive / negative)": f"{counts.get('positive', '?')} / {counts.get('negative', '?')}",
        "data hash": str(meta.get("data_hash", ""))[:16],
        "training window": meta.get("training_window", ""),
    }
    return write_report(
        path,
        outcome=holdout["outcome"],
        probability=holdout["probability"],
        rules_score=holdout.get("rules_score"),
        importance=holdout.get("importance"),
        drift=drift,
        model_info={k: v for k, v in info.items() if v not in ("", None)},
        title=title or f"leadq model report: {meta.get('version', '')}",
        drift_source="holdout vs training data",
    )


def _level(value: float, thresholds: Drift) -> Level:
    if value >= thresholds.psi_alert:
        return "alert"
    return "warn" if value >= thresholds.psi_warn else "ok"
