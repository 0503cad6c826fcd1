"""The operator commands (`sync --once`, `runs`, `explain`, `history`, `audit export`, `review list`).

The read-only commands run on a config whose CRMs cannot be reached and whose secrets are not set, over a
state store seeded directly; `sync --once` runs against the in-process sandbox.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner, Result

from connector.errors import QuotaExhaustedError
from mappings import SANDBOX_TOKEN_ENV, load_config, write_default_config
from sandbox import SandboxServer
from sync.cli_ops import audit_app, explain, history, review_app, runs, sync
from sync.cli_ops_audit import Format, parse_since, write_export
from sync.cli_ops_lead import versions
from sync.cli_ops_sync import run_once
from sync.context import CycleContext
from sync.report import CrmReport, PlannedWrite, RunReport
from sync.state import ScoreRecord, StateStore
from sync.state.decisions import AUDIT_FIELDS
from tests.sync.conftest import Invoke

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
LEAD = "00Q000000000001AAA"


def make_app() -> typer.Typer:
    """The commands registered the way `sync.cli` registers them."""
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)
    app.command("sync")(sync)
    app.command("runs")(runs)
    app.command("explain")(explain)
    app.command("history")(history)
    app.add_typer(audit_app, name="audit")
    app.add_typer(review_app, name="review")
    return app


@pytest.fixture()
def ops() -> Invoke:
    runner = CliRunner()
    app = make_app()

    def run(*args: str) -> Result:
        result = runner.invoke(app, list(args), env={"COLUMNS": "220"})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return run


@pytest.fixture()
def offline_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Both CRMs configured at an address nothing listens on, secrets unset, CA file absent."""
    monkeypatch.delenv(SANDBOX_TOKEN_ENV, raising=False)
    return write_default_config(
        tmp_path / "leadq.yaml", sandbox_url="https://127.0.0.1:9", ca_bundle=tmp_path / "absent-ca.pem"
    )


@pytest.fixture()
def store(offline_config: Path) -> Iterator[StateStore]:
    opened = StateStore.open(load_config(offline_config, resolve=False).state.url)
    yield opened
    opened.close()


def report_json(status: str, **per_crm: dict[str, Any]) -> dict[str, Any]:
    """A stored run report, as the cycle stores `RunReport.to_json()`."""
    report = RunReport(started_at=T0, finished_at=T0 + timedelta(seconds=12.5), status=status)
    for crm, values in per_crm.items():
        part = report.crm(crm)
        for name, value in values.items():
            setattr(part, name, value)
    return report.to_json()


def contributions(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "up": [
            {"source": "graph", "label": "colleagues", "value": 2, "points": 12.0,
             "text": "2 colleagues at Acme engaged this month"},
            {"source": "field", "label": "Title", "value": "VP Sales", "points": 8, "text": "Title is VP Sales"},
        ],
        "down": [{"source": "field", "label": "Email", "value": None, "points": -5, "text": "No email address"}],
        "action": "route", "target": "005000000000AEX", "rule": "partner_referrals",
        "rule_reason": "Partner referrals go to the partner team", "overrode_model": True, "review": True,
        "review_reasons": ["borderline", "high value"], "changes": ["Score 55 -> 82: 2 colleagues engaged"],
        "segment": "smb", "rule_based": False, "object": "Lead", "completeness": 0.8,
    }  # fmt: skip
    return base | extra


def score(at: datetime, value: int, tier: str, parts: Any, lead: str = LEAD) -> ScoreRecord:
    return ScoreRecord(
        crm="salesforce", lead_id=lead, scored_at=at, score=value, tier=tier, probability=value / 100,
        reasons="2 colleagues at Acme engaged this month\nNo email address", contributions=parts,
        model_version="sf-2024.05.01", policy_version="p7",
    )  # fmt: skip


# ---- runs -------------------------------------------------------------------------------------------


def seed_runs(store: StateStore) -> None:
    first = store.start_run(T0)
    store.finish_run(
        first.id, "succeeded",
        report_json("succeeded", salesforce={"pulled": Counter(Lead=120, Contact=30), "scored": 140,
                                              "written": 97, "rejected": 3, "tasks_created": 4}),
        T0 + timedelta(seconds=12.5),
    )  # fmt: skip
    second = store.start_run(T0 + timedelta(hours=1))
    store.finish_run(
        second.id, "partial",
        report_json("partial", hubspot={"pulled": Counter(contacts=40), "scored": 40, "tasks_completed": 2,
                                         "stopped": "DAILY quota spent"}),
        T0 + timedelta(hours=1, seconds=3),
    )  # fmt: skip
    store.plan_write("salesforce", "Lead", LEAD, "leadq_Score__c", 55, 82)
    store.set_ledger_state("salesforce", "Lead", LEAD, "leadq_Score__c", "sent")
    store.set_ledger_state(
        "salesforce",
        "Lead",
        LEAD,
        "leadq_Score__c",
        "parked",
        "FIELD_CUSTOM_VALIDATION_EXCEPTION: Score locked",
    )
    item = store.enqueue("hubspot", "task", "contacts", "501", {"subject": "Review"}, "hs:501:review:0")
    store.mark_parked(item.id, "contact 501 was deleted in HubSpot")


def test_runs_lists_history_newest_first_and_parked_writes(
    ops: Invoke, offline_config: Path, store: StateStore
) -> None:
    seed_runs(store)
    result = ops("runs", "-c", str(offline_config))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.index("partial") < out.index("succeeded"), "newest first"
    assert "2024-05-01 09:00:00" in out and "12.5 s" in out
    assert "150" in out and "140" in out and "97" in out and "4 created, 0 completed" in out
    assert "HubSpot: DAILY quota spent" in out
    assert "parked: 2 writes" in out
    assert "Lead.leadq_Score__c -> 82" in out and "FIELD_CUSTOM_VALIDATION_EXCEPTION: Score locked" in out
    assert "task on contacts" in out and "contact 501 was deleted in HubSpot" in out

    doc = json.loads(ops("runs", "--json", "--limit", "1", "-c", str(offline_config)).stdout)
    [run] = doc["runs"]
    assert (run["status"], run["pulled"], run["tasks_completed"]) == ("partial", 40, 2)
    assert run["stopped"] == {"hubspot": "DAILY quota spent"} and run["duration_s"] == 12.5
    [parked_field] = doc["parked"]["fields"]
    assert (parked_field["field"], parked_field["value"], parked_field["attempts"]) == (
        "leadq_Score__c",
        82,
        1,
    )
    assert parked_field["reason"].startswith("FIELD_CUSTOM_VALIDATION_EXCEPTION")
    assert doc["parked"]["outbox"][0]["reason"] == "contact 501 was deleted in HubSpot"


def test_runs_on_an_empty_store_says_so(ops: Invoke, offline_config: Path) -> None:
    result = ops("runs", "-c", str(offline_config))
    assert result.exit_code == 0
    assert "no runs yet" in result.stdout and "nothing parked" in result.stdout


def test_a_bad_config_exits_2_with_its_line(ops: Invoke, tmp_path: Path) -> None:
    config = tmp_path / "leadq.yaml"
    config.write_text("hubspot:\n  connection: {}\nstate:\n  url: nowhere\n", encoding="utf-8")
    for command in (["runs"], ["explain", LEAD], ["history", LEAD], ["audit", "export"], ["review", "list"]):
        result = ops(*command, "-c", str(config))
        assert result.exit_code == 2, command
        assert f"{config}:4:" in result.stderr and "is not a database URL" in result.stderr


# ---- explain and history ----------------------------------------------------------------------------


def seed_scores(store: StateStore) -> None:
    store.add_scores([
        score(T0, 40, "C", contributions(changes=["First score"])),
        score(T0 + timedelta(days=1), 55, "C", contributions(changes=["Title changed to VP Sales"], trigger="changed")),
        score(T0 + timedelta(days=2), 82, "A", contributions(trigger="context")),
        score(T0, 30, "D", None, lead="00Q000000000002AAA"),
    ])  # fmt: skip


def test_explain_shows_the_latest_version_with_reasons_rule_review_and_override(
    ops: Invoke, offline_config: Path, store: StateStore
) -> None:
    seed_scores(store)
    store.set_override(
        "salesforce", LEAD, 90, "reviewer:005R", expires_at=datetime.now(UTC) + timedelta(days=9)
    )
    result = ops("explain", LEAD, "-c", str(offline_config))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert f"Lead {LEAD} in Salesforce: score 82, tier A (probability 0.82)" in out
    assert "model sf-2024.05.01, policy p7, segment smb, data completeness 80%" in out
    assert "+ 2 colleagues at Acme engaged this month (+12)" in out and "- No email address (-5)" in out
    assert "recommended action: route -> 005000000000AEX" in out
    assert "rule: partner_referrals (Partner referrals go to the partner team): it overrode the model" in out
    assert "review asked: borderline, high value" in out
    assert "Score 55 -> 82: 2 colleagues engaged" in out
    assert "override: score 90 set by reviewer:005R" in out

    doc = json.loads(ops("explain", LEAD, "--crm", "salesforce", "--json", "-c", str(offline_config)).stdout)
    assert (doc["score"], doc["tier"], doc["crm"], doc["object"]) == (82, "A", "salesforce", "Lead")
    assert [r["points"] for r in doc["up"]] == [12.0, 8] and doc["down"][0]["text"] == "No email address"
    assert doc["review_reasons"] == ["borderline", "high value"] and doc["overrode_model"] is True
    assert doc["override"]["score"] == 90 and doc["override"]["set_by"] == "reviewer:005R"


def test_explain_tolerates_a_score_without_contributions(
    ops: Invoke, offline_config: Path, store: StateStore
) -> None:
    seed_scores(store)
    result = ops("explain", "00Q000000000002AAA", "-c", str(offline_config))
    assert result.exit_code == 0, result.stderr
    assert "score 30, tier D" in result.stdout
    assert "reasons:" in result.stdout and "No email address" in result.stdout
    assert "review: not asked" in result.stdout and "override: none active" in result.stdout
    doc = json.loads(ops("explain", "00Q000000000002AAA", "--json", "-c", str(offline_config)).stdout)
    assert doc["up"] == [] and doc["action"] is None and doc["override"] is None


def test_explain_a_rules_only_hubspot_contact(ops: Invoke, offline_config: Path, store: StateStore) -> None:
    seed_scores(store)
    store.add_scores([ScoreRecord("hubspot", "501", T0, 15, "D", None, "", {"object": "contacts", "rule_based": True,
                      "up": [{"text": "Lead source: Partner Referral, +15", "points": 15}]}, None, None)])  # fmt: skip
    out = ops("explain", "501", "-c", str(offline_config)).stdout
    assert "contact 501 in HubSpot: score 15, tier D" in out and "by rules-only scoring" in out
    assert "+ Lead source: Partner Referral, +15\n" in out, "points the text gives are not repeated"
    assert "why down:\n  - (none)" in out


def test_a_lead_never_scored_exits_1(ops: Invoke, offline_config: Path, store: StateStore) -> None:
    seed_scores(store)
    for command in ("explain", "history"):
        result = ops(command, "00Qnope", "-c", str(offline_config))
        assert result.exit_code == 1
        assert "'00Qnope' was never scored in Salesforce or HubSpot" in result.stderr
    other_crm = ops("explain", LEAD, "--crm", "hubspot", "-c", str(offline_config))
    assert other_crm.exit_code == 1 and "never scored in HubSpot" in other_crm.stderr
    unknown = ops("explain", LEAD, "--crm", "pipedrive", "-c", str(offline_config))
    assert unknown.exit_code == 2 and "unknown CRM 'pipedrive'" in unknown.stderr


def test_history_lists_every_version_newest_first_with_deltas(
    ops: Invoke, offline_config: Path, store: StateStore
) -> None:
    seed_scores(store)
    result = ops("history", LEAD, "-c", str(offline_config))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "3 scored versions" in out
    assert out.index("2024-05-03") < out.index("2024-05-02") < out.index("2024-05-01 09:00")
    assert "+27" in out and "+15" in out and "first" in out
    assert "Title changed to VP Sales" in out and "sf-2024.05.01" in out
    assert "account or colleagues changed" in out and "record changed" in out  # why each was scored

    doc = json.loads(ops("history", LEAD, "--limit", "2", "--json", "-c", str(offline_config)).stdout)
    assert [(v["score"], v["delta"]) for v in doc["versions"]] == [(82, 27), (55, 15)]
    assert doc["versions"][1]["changes"] == ["Title changed to VP Sales"]
    assert [v["trigger"] for v in doc["versions"]] == ["context", "changed"]


@given(st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=12), st.integers(1, 14))
def test_history_deltas_add_up_to_the_total_change(values: list[int], limit: int) -> None:
    newest_first = [score(T0 - timedelta(days=i), v, "B", None) for i, v in enumerate(values)]
    rows = versions(newest_first, limit)
    assert len(rows) == min(limit, len(values))
    shown = min(limit, len(values))
    deltas = [r["delta"] for r in rows]
    if shown < len(values):
        assert sum(deltas) == values[0] - values[shown]
    else:
        assert deltas[-1] is None and sum(d for d in deltas if d is not None) == values[0] - values[-1]


# ---- audit export -----------------------------------------------------------------------------------


def seed_audit(store: StateStore) -> None:
    store.audit("leadq", "field_written", crm="salesforce", obj="Lead", record_id=LEAD, field="leadq_Score__c",
                old=55, new=82, model_version="sf-2024.05.01", policy_version="p7", at=T0)  # fmt: skip
    store.audit("005U", "human_edit", crm="salesforce", obj="Lead", record_id=LEAD, field="leadq_Tier__c",
                old="A", new='B, "by hand"\nsecond line', detail={"why": "rep"}, at=T0 + timedelta(days=2))  # fmt: skip


def test_audit_export_jsonl_and_since(ops: Invoke, offline_config: Path, store: StateStore) -> None:
    seed_audit(store)
    result = ops("audit", "export", "-c", str(offline_config))
    assert result.exit_code == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["action"] for e in lines] == ["field_written", "human_edit"]
    assert lines[0]["at"] == "2024-05-01T09:00:00+00:00" and (lines[0]["old"], lines[0]["new"]) == (55, 82)
    for since in ("2024-05-02", "2024-05-02T00:00:00Z", "2024-05-02T02:00+02:00"):
        later = ops("audit", "export", "--since", since, "-c", str(offline_config)).stdout.splitlines()
        assert [json.loads(line)["actor"] for line in later] == ["005U"], since


def test_audit_export_csv_to_a_file(
    ops: Invoke, offline_config: Path, store: StateStore, tmp_path: Path
) -> None:
    seed_audit(store)
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


def seed_reviews(store: StateStore) -> None:
    now = datetime.now(UTC)
    store.add_review_task("salesforce", LEAD, "sf:late", reviewer="005R", due=now - timedelta(hours=3),
                          detail={"score": 52, "subject": "Review Ada (52): borderline"}, task_id="00T1")  # fmt: skip
    store.add_review_task("salesforce", "00Q2", "sf:soon", reviewer="005S", due=now + timedelta(hours=20))
    store.add_review_task("hubspot", "501", "hs:done", due=now - timedelta(days=3), task_id="9001")
    store.update_review_task("hs:done", state="completed", decision="approve", decided_at=now)


def test_review_list_marks_overdue_and_filters(ops: Invoke, offline_config: Path, store: StateStore) -> None:
    seed_reviews(store)
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


# ---- sync --once ------------------------------------------------------------------------------------


def test_sync_requires_once(ops: Invoke, offline_config: Path) -> None:
    result = ops("sync", "-c", str(offline_config))
    assert result.exit_code == 2 and "use `leadq run` for the scheduled daemon" in result.stderr


def test_sync_with_a_bad_config_exits_2_with_its_line(ops: Invoke, tmp_path: Path) -> None:
    config = tmp_path / "leadq.yaml"
    config.write_text("salesforce:\n  connection:\n    instance_url: 42\n    bogus: true\n", encoding="utf-8")
    result = ops("sync", "--once", "-c", str(config))
    assert result.exit_code == 2
    assert f"{config}:4:" in result.stderr and result.stdout == ""


def test_sync_without_the_secret_exits_2_naming_the_variable(ops: Invoke, offline_config: Path) -> None:
    result = ops("sync", "--once", "--json", "-c", str(offline_config))
    assert result.exit_code == 2 and SANDBOX_TOKEN_ENV in result.stderr and result.stdout == ""


SECRET = "sandbox-secret-token-abcdef123456"


@pytest.fixture()
def sandbox_config(
    sandbox: SandboxServer, init_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The `leadq init --sandbox` config with a long token (the fake cycles never reach the sandbox)."""
    monkeypatch.setenv(SANDBOX_TOKEN_ENV, SECRET)
    return init_config()


def fake_cycle(status: str, seen: list[tuple[list[str], bool]]) -> Callable[..., RunReport]:
    def cycle(ctx: CycleContext, *, dry_run: bool = False) -> RunReport:
        seen.append((list[str](ctx.crms), dry_run))
        report = RunReport(
            started_at=T0, finished_at=T0 + timedelta(seconds=4), dry_run=dry_run, status=status
        )
        sf = report.crm("salesforce")
        sf.pulled, sf.scored, sf.written, sf.tasks_created = Counter(Lead=10), 9, 7, 1
        sf.api_calls, sf.phases = {"query": 3, "composite/sobjects": 1}, {"pull": 1.0, "write": 0.5}
        sf.problems = [f"Lead 00Q9: Email 'x' is not an email (token {SECRET})"]
        sf.planned = [
            PlannedWrite("salesforce", "field_update", "Lead", LEAD, {"leadq_Score__c": 82, "leadq_Tier__c": "A"},
                         "score changed"),
            PlannedWrite("salesforce", "task", "Task", None, {"subject": "Review Ada Lovelace (52)"}, "borderline"),
        ]  # fmt: skip
        report.crms["hubspot"] = CrmReport(crm="hubspot", stopped="DAILY quota spent")
        return report

    return cycle


def test_sync_once_prints_a_summary_and_redacts(
    sandbox_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[tuple[list[str], bool]] = []
    out = Console(file=io.StringIO(), width=220)
    code = run_once(sandbox_config, dry_run=False, as_json=False, cycle=fake_cycle("partial", seen), out=out)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert code == 0 and seen == [(["salesforce", "hubspot"], False)]
    assert "run - partial in 4.0 s" in text and "DAILY quota spent" in text
    salesforce_row = next(line for line in text.splitlines() if "Salesforce" in line)
    cells = [cell.strip() for cell in salesforce_row.split("│")[2:10]]
    assert cells == ["10", "9", "7", "0", "0", "1", "0", "4"]
    assert "1.5 s" in salesforce_row
    assert "is not an email" in text and SECRET not in text


def test_sync_once_dry_run_prints_the_planned_writes(sandbox_config: Path) -> None:
    seen: list[tuple[list[str], bool]] = []
    out = Console(file=io.StringIO(), width=220)
    code = run_once(sandbox_config, dry_run=True, as_json=False, cycle=fake_cycle("succeeded", seen), out=out)
    text = out.file.getvalue()  # type: ignore[attr-defined]
    assert code == 0 and seen[0][1] is True
    assert "Salesforce: 2 planned (dry run)" in text and "HubSpot: nothing to write" in text
    assert "leadq_Score__c -> 82" in text and "leadq_Tier__c -> A" in text and LEAD in text
    assert "task: Review Ada Lovelace (52)" in text and "borderline" in text
    assert "dry run: nothing was changed (1 record updates and 1 tasks/notes planned)" in text


def test_sync_once_json_is_one_report_object_and_failed_exits_1(
    sandbox_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run_once(sandbox_config, dry_run=False, as_json=True, cycle=fake_cycle("failed", []))
    printed = capsys.readouterr().out
    doc = json.loads(printed)
    assert code == 1 and printed.count("\n") == 1
    assert (doc["status"], doc["pulled"], doc["api_calls"]) == ("failed", 10, 4)
    assert SECRET not in printed and "**********" in printed


def test_a_connector_error_in_the_cycle_exits_1_without_the_secret(
    sandbox_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def cycle(ctx: CycleContext, *, dry_run: bool = False) -> RunReport:
        raise QuotaExhaustedError(f"REQUEST_LIMIT_EXCEEDED for session {SECRET}", crm="Salesforce")

    with pytest.raises(typer.Exit) as raised:
        run_once(sandbox_config, dry_run=False, as_json=False, cycle=cycle)
    err = capsys.readouterr().err
    assert raised.value.exit_code == 1
    assert "the cycle stopped: Salesforce: REQUEST_LIMIT_EXCEEDED" in err and SECRET not in err


def test_sync_once_runs_a_real_cycle_on_the_sandbox(
    sandbox: SandboxServer, init_config: Callable[..., Path], invoke: Invoke, ops: Invoke, tmp_path: Path
) -> None:
    # ImportError too: while the cycle is being written, its own imports may not resolve yet.
    pytest.importorskip("sync.cycle", exc_type=ImportError)
    from sandbox.seed import seed_org

    seed_org(sandbox.store, leads=60, seed=3)
    config = init_config()
    assert invoke("setup", "--config", str(config), "--no-sfdx").exit_code == 0
    dry = ops("sync", "--once", "--dry-run", "-c", str(config))
    assert dry.exit_code == 0, dry.stderr
    assert "nothing was changed" in dry.stdout
    result = ops("sync", "--once", "--json", "-c", str(config))
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    for key in ("pulled", "scored", "written", "rejected", "tasks_created", "tasks_completed", "api_calls",
                "duration_s"):  # fmt: skip
        assert key in doc, key
    assert doc["pulled"] > 0 and doc["scored"] > 0 and doc["api_calls"] > 0
    runs_doc = json.loads(ops("runs", "--json", "-c", str(config)).stdout)
    assert runs_doc["runs"][0]["status"] == doc["status"]
