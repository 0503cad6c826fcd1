"""Model quality on real lead data, through the same path the daemon takes.

For each dataset: load the CSV into a sandbox org as Salesforce Leads (`sandbox.csv_loader` with the
mapping in `benchmarks/`), serve it over HTTPS, pull the leads back through simple-salesforce
(`query_all_iter`, trusting the sandbox CA), translate them with `mappings.translate_batch` under a
`LeadqConfig` whose Salesforce features are the dataset's columns (leaky ones marked `leaky: true`),
build the feature frame with `scoring.features`, and train with `scoring.training.train` on a stratified
5-fold split (fixed seed). Reports ROC AUC, expected calibration error and Brier score of the
out-of-fold probabilities, and the AUC of the rules-only baseline (the features' `points`).

    .venv/bin/python -m benchmarks.quality [--only x_education|olist] [--report report.html]

Prints a table, then one JSON line:
{"x_education": {"auc": ..., "ece": ..., "brier": ..., "rules_auc": ...}, "olist": {"auc": ..., "rules_auc": ...}}
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import requests
from rich.console import Console
from rich.table import Table
from ruamel.yaml import YAML
from simple_salesforce.api import Salesforce
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

from mappings import FeatureSpec, Lead, LeadqConfig, ScoringConfig, parse_config, translate_batch
from sandbox import SandboxOptions
from sandbox.csv_loader import load_csv, read_mapping
from sandbox.server import running_sandbox
from sandbox.store import Store
from scoring.coldstart import rule_points, rule_scores
from scoring.contributions import Explainer
from scoring.drift import DriftBaseline, drift_report
from scoring.explain import source_points
from scoring.features import FeatureFrame, build_features
from scoring.graph import AccountGraph
from scoring.metrics import Quality, auc, quality
from scoring.report import write_report
from scoring.training import model_inputs, predict, subset, train

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
SEED = 0
FOLDS = 5


@dataclass(frozen=True)
class Dataset:
    name: str
    csv: Path
    mapping: Path
    features: Path
    now: datetime
    reference_auc: float


DATASETS = (
    Dataset(
        "x_education",
        DATA / "x-education-leads" / "Leads.csv",
        HERE / "x_education_mapping.yaml",
        HERE / "x_education_features.yaml",
        datetime(2026, 1, 1, tzinfo=UTC),
        0.875,
    ),
    Dataset(
        "olist",
        DATA / "olist-marketing-funnel" / "olist_marketing_qualified_leads_dataset.csv",
        HERE / "olist_mapping.yaml",
        HERE / "olist_features.yaml",
        datetime(2018, 11, 1, tzinfo=UTC),
        0.71,
    ),
)


def leadq_config(features: Path, sandbox_url: str, ca_bundle: Path) -> LeadqConfig:
    """A leadq.yaml for the sandbox whose Salesforce features are the dataset's columns."""
    specs = YAML(typ="safe").load(features.read_text(encoding="utf-8"))["features"]
    document = {
        "version": 1,
        "salesforce": {
            "connection": {
                "instance_url": sandbox_url,
                "auth": {"method": "access_token", "access_token": {"env": "LEADQ_SANDBOX_TOKEN"}},
                "ca_bundle": str(ca_bundle),
            },
            "objects": ["Lead", "Contact"],
            "features": specs,
        },
    }
    return parse_config(json.dumps(document), source=str(features), resolve=False)


def pull_leads(dataset: Dataset, workdir: Path) -> tuple[list[Lead], LeadqConfig, float]:
    """Load the CSV into a sandbox, pull it back through the real client, translate it."""
    db = workdir / f"{dataset.name}.db"
    store = Store(str(db))
    load_csv(store, dataset.csv, object_name="Lead", mapping=read_mapping(dataset.mapping))
    store.close()
    options = SandboxOptions(db=str(db), state_dir=workdir / "sandbox")
    started = time.perf_counter()
    with running_sandbox(options) as sandbox:
        config = leadq_config(dataset.features, sandbox.url, sandbox.ca_path)
        mapping = config.salesforce
        assert mapping is not None
        fields = ["Id", "IsConverted", "CreatedDate", "Company"]
        fields += sorted(
            {path for spec in mapping.features if (path := spec.field_for("Lead"))} - set(fields)
        )
        session = requests.Session()
        session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides the sandbox CA
        session.verify = str(sandbox.ca_path)
        client = Salesforce(instance_url=sandbox.url, session_id=sandbox.token, session=session)
        raw = list(client.query_all_iter(f"SELECT {', '.join(fields)} FROM Lead"))
    pulled = time.perf_counter() - started
    batch = translate_batch("salesforce", "Lead", raw, mapping, now=dataset.now)
    leads = [r for r in batch.records if isinstance(r, Lead)]
    return leads, config, pulled


def feature_frame(leads: Sequence[Lead], specs: Sequence[FeatureSpec], now: datetime) -> FeatureFrame:
    """The daemon's feature frame (no accounts or activity in these datasets)."""
    graph = AccountGraph()
    graph.update(leads=leads)
    return build_features(leads, graph=graph, features=specs, crm="salesforce", now=now)


@dataclass(frozen=True)
class Result:
    dataset: Dataset
    model: Quality
    rules_auc: float
    leads: int
    columns: int
    pull_s: float
    train_s: float
    oof: np.ndarray
    rules: np.ndarray
    outcome: np.ndarray
    frame: FeatureFrame


def evaluate(dataset: Dataset, workdir: Path) -> Result:
    leads, config, pull_s = pull_leads(dataset, workdir)
    assert config.salesforce is not None
    specs = config.salesforce.features
    frame = feature_frame(leads, specs, dataset.now)
    outcome = pd.Series([int(lead.is_converted) for lead in leads], index=frame.data.index)
    oof = np.zeros(len(outcome))
    started = time.perf_counter()
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=SEED)
    for train_rows, test_rows in folds.split(np.zeros(len(outcome)), outcome.to_numpy()):
        ids = frame.data.index
        trained = train(subset(frame, ids[train_rows]), outcome, config.scoring, random_state=SEED)
        oof[test_rows] = predict(trained, subset(frame, ids[test_rows]))
    train_s = time.perf_counter() - started
    rules = rule_scores(rule_points(frame.data, specs)).to_numpy()
    y = outcome.to_numpy()
    columns = len(frame.schema(drop_empty=True).columns)
    return Result(
        dataset, quality(y, oof), auc(y, rules), len(leads), columns, pull_s, train_s, oof, rules, y, frame
    )


def report(result: Result, path: Path) -> None:
    """The HTML model report of a dataset: out-of-fold quality, a model's contributions, fold drift."""
    frame, y = result.frame, pd.Series(result.outcome, index=result.frame.data.index)
    half = len(y) // 2
    first, second = subset(frame, frame.data.index[:half]), subset(frame, frame.data.index[half:])
    scoring = ScoringConfig()
    trained = train(first, y, scoring, random_state=SEED)
    X = model_inputs(second, trained.schema)
    contributions = Explainer(trained.model).contributions(X)
    sources = source_points(contributions.frame(), frame.columns)
    baseline = DriftBaseline.from_dict(trained.extra["drift_baseline"])
    drift = drift_report(baseline, X, scoring.drift, scores=100 * contributions.probability)
    write_report(
        path,
        outcome=result.outcome,
        probability=result.oof,
        rules_score=result.rules,
        importance={sources.labels[str(k)]: float(v) for k, v in sources.points.abs().mean().items()},
        drift=drift,
        model_info={
            "dataset": result.dataset.name,
            "calibration": getattr(trained.model, "calibration_", ""),
        },
        title=f"leadq model report: {result.dataset.name}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=[d.name for d in DATASETS])
    parser.add_argument("--report", type=Path, help="write the X Education model report (HTML) here")
    args = parser.parse_args()
    console = Console(width=150)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1, user_api="openmp"):
        for dataset in DATASETS:
            if args.only and dataset.name != args.only:
                continue
            if not dataset.csv.exists():
                console.print(f"[yellow]{dataset.name}: {dataset.csv} is missing, skipped[/yellow]")
                continue
            results.append(evaluate(dataset, Path(tmp)))
        if args.report and results:
            report(results[0], args.report)
    table = Table(title=f"Lead scoring quality (stratified {FOLDS}-fold, seed {SEED}, out-of-fold)")
    for column in (
        "dataset",
        "leads",
        "columns",
        "ROC AUC",
        "reference",
        "ECE",
        "Brier",
        "rules-only AUC",
        "pull s",
        "train s",
    ):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for r in results:
        q = r.model
        table.add_row(
            r.dataset.name, f"{r.leads:,}", str(r.columns), f"{q.auc:.4f}", f"{r.dataset.reference_auc:.3f}",
            f"{q.ece:.4f}", f"{q.brier:.4f}", f"{r.rules_auc:.4f}", f"{r.pull_s:.1f}", f"{r.train_s:.1f}",
        )  # fmt: skip
    console.print(table)
    summary: dict[str, dict[str, float]] = {}
    for r in results:
        figures = {"auc": r.model.auc, "ece": r.model.ece, "brier": r.model.brier, "rules_auc": r.rules_auc}
        keep = (
            ("auc", "ece", "brier", "rules_auc") if r.dataset.name == "x_education" else ("auc", "rules_auc")
        )
        summary[r.dataset.name] = {k: round(figures[k], 4) for k in keep}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
