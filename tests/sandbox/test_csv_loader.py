"""The CSV loader: mapping, coercion, custom fields and properties, per-row errors, real datasets."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from sandbox.csv_loader import CsvLoadError, load_csv, read_mapping
from sandbox.store import Store
from tests.conftest import DATA

ROOT = Path(__file__).resolve().parents[2]

SMALL = """Email,Name,Company,Converted,Source,Visits,Revenue,Opted Out,Signed Up,Notes,Internal
ann@acme.com,Smith,Acme Corp,1,google,3,"1,200",Yes,2024-03-01,hello,x
bob@globex.com,Jones,Globex,0,partner,abc,500,No,2024-03-02,,y
cy@initech.com,,Initech,0,fair,2,10.5,maybe,2024-02-30,"multi
line",z
dee@hooli.com,Lee,,1,,7,,No,2024-03-04,ok,w
"""

MAPPING = """object: Lead
missing: [""]
defaults:
  LastName: "{Email}"
columns:
  Email: Email
  Name:
    field: LastName
  Company: Company
  Converted:
    field: IsConverted
  Source:
    field: LeadSource
    values: {google: Web, partner: Partner Referral}
    other: Other
    keep: true
  Revenue:
    field: AnnualRevenue
  Visits: {type: number}
  Opted Out: {type: boolean}
  Internal: skip
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_small_csv_into_leads(tmp_path: Path) -> None:
    store = Store(None)
    report = load_csv(
        store, _write(tmp_path, "small.csv", SMALL), object_name="Lead",
        mapping=read_mapping(_write(tmp_path, "m.yaml", MAPPING)), progress=None,
    )  # fmt: skip
    # row 2: Visits "abc"; row 3: Opted Out "maybe" and Signed Up 2024-02-30; row 4: no Company (required)
    assert report.rows == 4 and report.loaded == 1 and report.rejected == [2, 3, 4]
    bad = {(e.row, e.column, e.field) for e in report.errors}
    assert (2, "Visits", "Visits__c") in bad
    assert (3, "Opted Out", "Opted_Out__c") in bad and (3, "Signed Up", "Signed_Up__c") in bad
    assert any(e.row == 4 and e.field == "Company" for e in report.errors)
    line3 = next(e for e in report.errors if e.row == 3)
    assert line3.line == 5  # the quoted Notes cell spans two lines
    created = {f.name: f.type for f in store.sf_object("Lead").fields if f.custom}  # type: ignore[union-attr]
    assert created == {"Source__c": "string", "Visits__c": "double", "Opted_Out__c": "boolean",
                       "Signed_Up__c": "date", "Notes__c": "string"}  # fmt: skip
    assert report.skipped_columns == ["Internal"]
    row = store.sql("SELECT * FROM sf_Lead")[0]
    assert row["Email"] == "ann@acme.com" and row["LastName"] == "Smith" and row["IsConverted"] == 1
    assert row["LeadSource"] == "Web" and row["Source__c"] == "google"
    assert row["AnnualRevenue"] == 1200.0 and row["Visits__c"] == 3.0 and row["Opted_Out__c"] == 1
    assert row["Signed_Up__c"] == "2024-03-01"
    text = report.summary()
    assert "loaded 1 of 4 rows" in text and "3 rejected" in text and "Visits__c" in text and "'abc'" in text


def test_blank_bad_values_and_defaults(tmp_path: Path) -> None:
    store = Store(None)
    mapping = MAPPING.replace("defaults:\n", "on_error: blank\ndefaults:\n  Company: Unknown\n")
    report = load_csv(store, _write(tmp_path, "s.csv", SMALL), object_name="Lead",
                      mapping=read_mapping(_write(tmp_path, "m.yaml", mapping)))  # fmt: skip
    assert report.loaded == 4 and not report.rejected and len(report.errors) == 3
    rows = {r["Email"]: r for r in store.sql("SELECT * FROM sf_Lead")}
    assert rows["cy@initech.com"]["LastName"] == "cy@initech.com"  # the default, from another column
    assert rows["cy@initech.com"]["LeadSource"] == "Other"  # not in the value map
    assert rows["dee@hooli.com"]["Company"] == "Unknown" and rows["dee@hooli.com"]["LeadSource"] is None
    assert rows["bob@globex.com"]["Visits__c"] is None
    # loading again reuses the custom fields
    again = load_csv(store, _write(tmp_path, "s.csv", SMALL), object_name="Lead",
                     mapping=read_mapping(_write(tmp_path, "m.yaml", mapping)))  # fmt: skip
    assert not again.created_fields and "Visits__c" in again.reused_fields
    assert store.sf_count("Lead") == 8


def test_hubspot_contacts_get_custom_properties(tmp_path: Path) -> None:
    store = Store(None)
    mapping = """object: contacts
columns:
  Email: email
  Name: lastname
  Company: company
  Converted:
    field: lifecyclestage
    values: {"1": customer, "0": lead}
  Source:
    field: hs_lead_status
  Visits: {type: number}
  Opted Out: {type: boolean}
  Internal: skip
"""
    report = load_csv(store, _write(tmp_path, "s.csv", SMALL), object_name="contacts",
                      mapping=read_mapping(_write(tmp_path, "m.yaml", mapping)))  # fmt: skip
    # hs_lead_status is an enumeration: "google", "partner", "fair" are not among its options
    assert report.rejected == [1, 2, 3] and report.loaded == 1
    props = store.hs_properties("contacts")
    assert props["visits"]["type"] == "number" and props["visits"]["groupName"] == "leadq_import"
    assert props["opted_out"]["type"] == "bool" and props["signed_up"]["type"] == "date"
    assert "leadq_import" in store.hs_groups("contacts")
    rec = next(
        iter(
            store.hs_get_many("contacts", [int(r[0]) for r in store.sql("SELECT id FROM hs_object")]).values()
        )
    )
    assert rec.props["lifecyclestage"] == "customer" and rec.props["opted_out"] == "false"
    assert rec.props["visits"] == "7" and rec.props["email"] == "dee@hooli.com"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("object: Lead\nbogus: 1\n", 2, "unknown key 'bogus'"),
        ("object: Lead\ncolumns:\n  Email:\n    field: Emial\n", 3, "has no field 'Emial'"),
        ("object: Lead\ncolumns:\n  Email: Email\n  Nope: LastName\n", 4, "'Nope' is not in the header"),
        ("object: Lead\ncolumns:\n  Visits:\n    type: money\n", 4, "type must be one of"),
        ("object: Lead\ncolumns:\n  Email:\n    field: IsDeleted\n", 3, "read-only"),
        ("object: Lead\nunmapped: maybe\n", 2, "unmapped must be one of"),
    ],
)
def test_mapping_errors_name_the_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(CsvLoadError) as info:
        load_csv(
            Store(None), _write(tmp_path, "s.csv", SMALL), object_name="Lead", mapping=read_mapping(path)
        )
    assert f"bad.yaml:{line}:" in str(info.value) and message in str(info.value)


def test_object_mismatch_and_unknown_object(tmp_path: Path) -> None:
    mapping = read_mapping(_write(tmp_path, "m.yaml", MAPPING))
    with pytest.raises(CsvLoadError, match="for Lead, not contacts"):
        load_csv(Store(None), _write(tmp_path, "s.csv", SMALL), object_name="contacts", mapping=mapping)
    with pytest.raises(CsvLoadError, match="unknown object"):
        load_csv(Store(None), _write(tmp_path, "s.csv", SMALL), object_name="Widget", mapping=mapping)


def test_x_education_loads_completely() -> None:
    path = DATA / "x-education-leads" / "Leads.csv"
    if not path.exists():
        pytest.skip("X Education dataset not present")
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    store = Store(None)
    mapping = read_mapping(ROOT / "benchmarks" / "x_education_mapping.yaml")
    report = load_csv(store, path, object_name="Lead", mapping=mapping)
    assert report.rows == len(rows) == 9240 and report.loaded == 9240 and not report.rejected
    assert store.sql("SELECT SUM(IsConverted) FROM sf_Lead")[0][0] == sum(int(r["Converted"]) for r in rows)
    assert store.sql("SELECT COUNT(*) FROM sf_Lead WHERE Status = 'Closed - Converted'")[0][0] == 3561
    fields = {f.name: f.type for f in store.sf_object("Lead").fields if f.custom}  # type: ignore[union-attr]
    assert fields["TotalVisits__c"] == "double" and fields["Do_Not_Call__c"] == "boolean"
    assert fields["Lead_Source__c"] == "string" and fields["Tags__c"] == "string"
    # every column is kept: mapped ones also in a custom field where the mapping says `keep`
    assert len(fields) == len(rows[0]) - 1  # all but Converted
    assert store.sql("SELECT COUNT(*) FROM sf_Lead WHERE Specialization__c = 'Select'")[0][0] == 0
    assert set(report.leaky_columns) >= {"Tags", "Lead Quality", "Lead Profile", "Last Activity",
                                         "Last Notable Activity", "Asymmetrique Activity Index"}  # fmt: skip
    sources = {r[0] for r in store.sql("SELECT DISTINCT LeadSource FROM sf_Lead")}
    assert sources <= {None, "Web", "Partner Referral", "Phone Inquiry", "Other"}


def test_olist_join_gives_the_label() -> None:
    folder = DATA / "olist-marketing-funnel"
    if not (folder / "olist_closed_deals_dataset.csv").exists():
        pytest.skip("Olist dataset not present")
    store = Store(None)
    mapping = read_mapping(ROOT / "benchmarks" / "olist_mapping.yaml")
    report = load_csv(store, folder / "olist_marketing_qualified_leads_dataset.csv", object_name="Lead",
                      mapping=mapping)  # fmt: skip
    assert report.loaded == 8000 and not report.rejected
    assert store.sql("SELECT SUM(IsConverted), COUNT(ConvertedDate) FROM sf_Lead")[0][:] == (842, 842)
    assert store.sql("SELECT MIN(CreatedDate) FROM sf_Lead")[0][0].startswith("2017-06-14")


def test_cli_load_csv_reports_and_fails_on_rejected_rows(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sync.cli_sandbox import sandbox_app

    csv_path = _write(tmp_path, "small.csv", SMALL)
    args = ["load-csv", str(csv_path), "--object", "Lead", "--db", str(tmp_path / "s.db")]
    result = CliRunner().invoke(sandbox_app, [*args, "--mapping", str(_write(tmp_path, "m.yaml", MAPPING))])
    assert result.exit_code == 1, result.output  # rows were rejected
    assert "loaded 1 of 4 rows" in result.output
    store = Store(str(tmp_path / "s.db"))
    assert store.sf_count("Lead") == 1
    store.close()
    bad = CliRunner().invoke(
        sandbox_app, [*args, "--mapping", str(_write(tmp_path, "b.yaml", "object: Lead\nx: 1\n"))]
    )
    assert bad.exit_code == 2 and "b.yaml:2" in bad.output
