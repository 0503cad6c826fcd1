"""The audit and review operator commands: `audit export` (JSON lines or CSV, since a date) and `review list`,
on a config whose CRMs cannot be reached, over a state store seeded directly."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.cli_ops_audit import Format, parse_since, write_export
from sync.state import StateStore
from sync.state.decisions import AUDIT_FIELDS
from tests.sync.cli_ops_support import LEAD, T0
from tests.sync.conftest import Invoke

# ---- audit export -----------------------------------------------------------------------------------


def seed_audit(offline_store: StateStore) -> None:
    offline_store.audit("leadq", "field_written", crm="salesforce", obj="Lead", record_id=LEAD, field="leadq_Score__c",
                old=55, new=82, model_version="sf-2024.05.01", policy_version="p7", at=T0)  # fmt: skip
    offline_store.audit("005U", "human_edit", crm="salesforce", obj="Lead", record_id=LEAD, field="leadq_Tier__c",
                old="A", new='B, "by hand"\nsecond line', detail={"why": "rep"}, at=T0 + timedelta(days=2))  # fmt: skip


def test_audit_export_jsonl_and_since(ops: Invoke, offline_config: Path, offline_store: StateStore) -> None:
    seed_audit(offline_store)
    result = ops("audit", "export", "-c", str(offline_config))
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["action"] for e in lines] == ["field_written", "human_edit"]
    assert lines[0]["at"] == "2024-05-01T09:00:00+00:00" and (lines[0]["old"], lines[0]["new"]) == (55, 82)
    for since in ("2024-05-02", "2024-05-02T00:00:00Z", "2024-05-02T02:00+02:00"):
        later = ops("audit", "export", "--since", since, "-c", str(offline_config)).stdout.splitlines()
        assert [json.loads(line)["actor"] for line in later] == ["005U"], since


def test_audit_export_csv_to_a_file(
    ops: Invoke, offline_config: Path, offline_store: StateStore, tmp_path: Path
) -> None:
    seed_audit(offline_store)
    out = tmp_path / "audit.csv"
    result = ops("audit", "export", "--format", "csv", "--out", str(out), "-c", str(offline_config))
    assert result.exit_code == 0 and result.stdout == ""
    assert f"exported 2 audit entries to {out}" in result.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert list(rows[0]) == list(AUDIT_FIELDS)
    assert (rows[0]["old"], rows[0]["new"], rows[0]["detail"]) == ("55", "82", "")
    assert rows[1]["new"] == 'B, "by hand"\nsecond line' and json.loads(rows[1]["detail"]) == {"why": "rep"}


def test_audit_export_rejects_a_bad_since(ops: Invoke, offline_config: Path) -> None:
    result = ops("audit", "export", "--since", "last tuesday", "-c", str(offline_config))
    assert result.exit_code == 2
    assert "--since 'last tuesday' is not a date (2024-05-01" in result.stderr
    assert ops("audit", "export", "--format", "xml", "-c", str(offline_config)).exit_code == 2


@given(st.datetimes(min_value=datetime(1970, 1, 2), timezones=st.timezones()))
def test_since_accepts_any_iso_datetime(value: datetime) -> None:
    assert parse_since(value.isoformat()) == value.astimezone(UTC)


@settings(max_examples=50)
@given(st.lists(st.one_of(st.none(), st.text(), st.integers(), st.booleans()), min_size=1, max_size=5))
def test_csv_export_round_trips_any_text(values: list[Any]) -> None:
    entries = [{"id": i, "at": T0, "actor": "leadq", "action": "x", "old": None, "new": v, "detail": None}
               for i, v in enumerate(values)]  # fmt: skip
    buffer = io.StringIO(newline="")
    assert write_export(entries, Format.csv, buffer) == len(values)
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue(), newline="")))
    expected = ["" if v is None else v if isinstance(v, str) else json.dumps(v) for v in values]
    assert [r["new"] for r in rows] == expected


# ---- review list ------------------------------------------------------------------------------------


def seed_reviews(offline_store: StateStore) -> None:
    now = datetime.now(UTC)
    offline_store.add_review_task("salesforce", LEAD, "sf:late", reviewer="005R", due=now - timedelta(hours=3),
                          detail={"score": 52, "subject": "Review Ada (52): borderline"}, task_id="00T1")  # fmt: skip
    offline_store.add_review_task(
        "salesforce", "00Q2", "sf:soon", reviewer="005S", due=now + timedelta(hours=20)
    )
    offline_store.add_review_task("hubspot", "501", "hs:done", due=now - timedelta(days=3), task_id="9001")
    offline_store.update_review_task("hs:done", state="completed", decision="approve", decided_at=now)


def test_review_list_marks_overdue_and_filters(
    ops: Invoke, offline_config: Path, offline_store: StateStore
) -> None:
    seed_reviews(offline_store)
    result = ops("review", "list", "-c", str(offline_config))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.count("OVERDUE") == 1 and "00T1" in out and "Review Ada (52): borderline" in out
    assert "00Q2" in out and "(not created)" in out and "501" not in out

    doc = json.loads(ops("review", "list", "--state", "all", "--json", "-c", str(offline_config)).stdout)
    by_lead = {t["lead_id"]: t for t in doc["tasks"]}
    assert set(by_lead) == {LEAD, "00Q2", "501"}
    assert by_lead[LEAD]["overdue"] is True and by_lead["00Q2"]["overdue"] is False
    assert by_lead["501"]["overdue"] is False, "a completed task is never overdue"
    assert (by_lead["501"]["decision"], by_lead["501"]["task_id"]) == ("approve", "9001")
    done = ops("review", "list", "--crm", "hubspot", "--state", "completed", "-c", str(offline_config))
    assert "approve" in done.stdout and "9001" in done.stdout and LEAD not in done.stdout
    bad = ops("review", "list", "--state", "closed", "-c", str(offline_config))
    assert bad.exit_code == 2 and "--state 'closed' is not one of open, completed" in bad.stderr
