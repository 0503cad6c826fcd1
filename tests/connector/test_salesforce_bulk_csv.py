"""The Bulk API 2.0 update upload and its results, as text: what the writer sends is what it meant, and the
results read back to the right records."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.salesforce.values import BULK_NULL, to_csv
from connector.salesforce.write import _ingest, _result_rows, _uploads

FIELD_NAMES = st.sampled_from(["leadq_Score__c", "leadq_Reasons__c", "Title", "Status", "OwnerId"])
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**9), 10**9),
    st.text(max_size=40),  # commas, quotes, newlines
)
RECORDS = st.dictionaries(
    st.text("0123456789abcdefABCDEF", min_size=15, max_size=18),
    st.dictionaries(FIELD_NAMES, VALUES, min_size=1, max_size=5),
    min_size=1,
    max_size=30,
)


def _read(upload: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(upload, newline="")))


@given(RECORDS, st.sampled_from([10**9, 400, 1]))
def test_every_record_goes_once_with_its_own_cells_and_empty_ones_elsewhere(
    records: dict[str, dict[str, object]], limit: int
) -> None:
    ids = list(records)
    uploads = _uploads(ids, records, limit)
    rows = [row for upload in uploads for row in _read(upload)]
    assert [row["Id"] for row in rows] == ids, "every record once, in order"
    for row in rows:
        fields = records[row["Id"]]
        for name, cell in row.items():
            if name != "Id":
                # A field the record does not set stays empty (left alone); None goes as #N/A (cleared).
                assert cell == (to_csv(fields[name]) if name in fields else "")
        assert all((row[name] == BULK_NULL) == (value is None) for name, value in fields.items())
    assert all(len(u.encode()) <= limit for u in uploads if len(_read(u)) > 1), "over the limit: halved"


def test_results_name_each_record_and_its_error_as_the_service_writes_them() -> None:
    successful = '"sf__Id","sf__Created",Id,leadq_Score__c\n"00Q1","false",00Q1,70\n"00Q2","false",,71\n'
    failed = '"sf__Id","sf__Error",Id,LastName\n"","STRING_TOO_LONG:Last Name: data value too large:LastName --",00Q3,"y, z"\n\n'
    assert list(_result_rows(successful)) == [("00Q1", ""), ("00Q2", "")]
    assert list(_result_rows(failed)) == [
        ("00Q3", "STRING_TOO_LONG:Last Name: data value too large:LastName --")
    ]
    assert list(_result_rows("")) == []


class ScriptedJobs:
    """simple-salesforce's Bulk API 2.0 client, as far as `_ingest` uses it: each call noted, `fail` naming
    the one that raises, `state` what the job's state reads as afterwards."""

    def __init__(self, fail: str | None = None, state: str = "Open", state_fails: bool = False) -> None:
        self.fail, self.state, self.state_fails = fail, state, state_fails
        self.calls: list[str] = []

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name == self.fail:
            raise ConnectionResetError(f"{name} failed")

    def create_job(self, operation: str) -> dict[str, str]:
        self._call("create")
        return {"id": "750J1", "state": "Open"}

    def upload_job_data(self, job_id: str, data: str) -> None:
        self._call("upload")

    def close_job(self, job_id: str) -> None:
        self._call("close")

    def wait_for_job(self, job_id: str, is_query: bool, wait: float) -> str:
        self._call("wait")
        return "JobComplete"

    def get_job(self, job_id: str, is_query: bool) -> dict[str, str]:
        self._call("state")
        if self.state_fails:
            raise ConnectionResetError("state failed")
        return {"id": job_id, "state": self.state}

    def abort_job(self, job_id: str, is_query: bool) -> None:
        self._call("abort")

    def get_ingest_results(self, job_id: str, results_type: str) -> str:
        self._call(str(results_type.value if hasattr(results_type, "value") else results_type))
        return "sf__Id,sf__Created,Id\n"


def test_a_job_runs_to_its_results_without_asking_its_state_again() -> None:
    jobs = ScriptedJobs()
    assert _ingest(jobs, "Id\n00Q1\n", 0.0) == ("sf__Id,sf__Created,Id\n", "sf__Id,sf__Created,Id\n")
    assert jobs.calls == ["create", "upload", "close", "wait", "successfulResults", "failedResults"]


@pytest.mark.parametrize(
    ("fail", "state", "aborted"),
    [("upload", "Open", True), ("close", "UploadComplete", True), ("wait", "InProgress", True),
     ("wait", "JobComplete", False), ("wait", "Failed", False)],
)  # fmt: skip
def test_a_job_that_fails_part_way_is_aborted_while_it_still_can_run(
    fail: str, state: str, aborted: bool
) -> None:
    jobs = ScriptedJobs(fail, state)
    with pytest.raises(ConnectionResetError, match=f"{fail} failed"):
        _ingest(jobs, "Id\n00Q1\n", 0.0)
    assert jobs.calls[-2:] == (["state", "abort"] if aborted else [fail, "state"])


def test_the_jobs_own_error_is_raised_when_its_state_cannot_be_read_either() -> None:
    jobs = ScriptedJobs("upload", state_fails=True)
    with pytest.raises(ConnectionResetError, match="upload failed"):
        _ingest(jobs, "Id\n00Q1\n", 0.0)
    assert jobs.calls == ["create", "upload", "state"]
