"""The HTML model report: one self-contained file with its plots embedded."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import numpy as np

from mappings.config.policy import Drift
from scoring.drift import DriftBaseline, drift_report
from scoring.report import write_report
from tests.scoring.model_fixtures import lead_data


def test_report_embeds_every_plot_and_the_tables(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.4).astype(int)
    p = np.clip(0.4 + 0.3 * (y - 0.4) + rng.normal(0, 0.15, size=500), 0.01, 0.99)
    frame, _ = lead_data(400)
    later, _ = lead_data(300, seed=8)
    drift = drift_report(
        DriftBaseline.fit(frame.data, 100 * p[:400]), later.data, Drift(), scores=100 * p[:300]
    )
    path = write_report(
        tmp_path / "report.html",
        outcome=y,
        probability=p,
        rules_score=np.round(100 * rng.random(500)),
        importance={"LeadSource": 6.1, "Email": 2.5, "graph:colleagues_engaged": 1.2},
        drift=drift,
        model_info={"version": "20261126-120000-abcdef12", "calibration": "sigmoid"},
    )
    text = path.read_text(encoding="utf-8")
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)
    assert len(images) == 5  # calibration, ROC, lift, score distribution, SHAP summary
    assert all(base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n" for image in images)
    for alt in (
        "Calibration",
        "ROC",
        "Lift",
        "Score distribution by outcome",
        "Mean |contribution| by source",
    ):
        assert f'alt="{alt}' in text
    assert "rules only" in text and "ROC AUC" in text and "20261126-120000-abcdef12" in text
    assert "Drift (PSI" in text and "employees" in text
    assert "<script" not in text and 'src="http' not in text  # self-contained: nothing fetched
