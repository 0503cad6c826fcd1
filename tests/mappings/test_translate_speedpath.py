"""Translation's caches and shortcuts change nothing: seeded-org records translate as they did before them.

`data/translate_golden.json.gz` holds 70 records of every object of both CRMs, taken from a full pull of the
2,000-lead seeded org (seed 7) and a third of them given odd values (wrong JSON types, blanks, huge ints, bad
and out-of-range dates, control characters, over-long text), with the canonical records (their repr) and
the problems `translate_batch` gave for them before the per-value caches and shortcuts existed.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings import CrmMapping, default_mapping, to_canonical, translate_batch
from mappings.problems import BatchResult
from mappings.record_makers import maker
from mappings.records import Activity, CanonicalRecord, Contact, Task

GOLDEN = json.loads(
    gzip.decompress((Path(__file__).parent / "data" / "translate_golden.json.gz").read_bytes())
)
NOW = datetime.fromisoformat(GOLDEN["now"])
MAPPINGS: dict[str, CrmMapping] = {crm: default_mapping(crm) for crm in ("salesforce", "hubspot")}
CASES: list[dict[str, Any]] = GOLDEN["cases"]


def _shown(batch: BatchResult[CanonicalRecord]) -> tuple[list[str], list[list[str]]]:
    problems = [[p.record_id, p.field, repr(p.value), p.message, p.object] for p in batch.problems]
    return [repr(r) for r in batch.records], problems


def test_the_golden_file_covers_every_object_with_odd_values() -> None:
    objects = {(case["crm"], case["object"]) for case in CASES}
    assert len(objects) == 12
    assert sum(len(case["problems"]) for case in CASES) > 300  # the odd values did reach the readers


@pytest.mark.parametrize("case", CASES, ids=[f"{c['crm']}-{c['object']}" for c in CASES])
def test_seeded_records_translate_exactly_as_recorded(case: dict[str, Any]) -> None:
    mapping = MAPPINGS[case["crm"]]
    for _ in range(2):  # the second pass reads through warm caches
        batch = translate_batch(case["crm"], case["object"], case["raw"], mapping, now=NOW)
        records, problems = _shown(batch)
        assert records == case["records"]
        assert problems == case["problems"]


@settings(max_examples=15, deadline=None)
@given(order=st.permutations(range(len(CASES))), data=st.data())
def test_cached_values_never_leak_between_records_or_objects(order: list[int], data: st.DataObject) -> None:
    # Caches fill in whatever order records arrive: any order and any slice gives each record its own result.
    for index in order:
        case = CASES[index]
        crm, obj, mapping = case["crm"], case["object"], MAPPINGS[case["crm"]]
        start = data.draw(st.integers(0, len(case["raw"]) - 1))
        part = case["raw"][start:]
        batch = translate_batch(crm, obj, part, mapping, now=NOW)
        singles = [to_canonical(crm, obj, r, mapping, now=NOW, position=i) for i, r in enumerate(part)]
        assert batch.records == [s.record for s in singles if s.record is not None]
        assert batch.problems == [p for s in singles for p in s.problems]
        recorded = case["records"]
        assert [repr(r) for r in batch.records] == recorded[len(recorded) - len(batch.records) :]


@given(
    values=st.lists(
        st.one_of(st.none(), st.text(max_size=5), st.integers(), st.booleans()), min_size=6, max_size=6
    )
)
def test_a_maker_builds_what_the_keyword_constructor_builds(values: list[Any]) -> None:
    names = ("crm", "id", "deleted", "modified_at", "subject", "who_id")
    for cls in (Activity, Task):
        made = maker(cls, *names)(*values)
        built = cls(**dict(zip(names, values, strict=True)))
        assert type(made) is cls and made == built and repr(made) == repr(built)
    lead = maker(Contact, "crm", "id")("hubspot", "1")
    assert lead == Contact(crm="hubspot", id="1") and lead.kind == "contact" and lead.fields == {}
    assert lead.fields is not maker(Contact, "crm", "id")("hubspot", "2").fields  # factories run per record


def test_a_maker_refuses_unknown_fields_and_calls_classes_with_post_init() -> None:
    with pytest.raises(ValueError, match="no fields"):
        maker(Activity, "crm", "colour")
    with pytest.raises(ValueError, match="crm has no default"):
        maker(Activity, "id")

    @dataclass(frozen=True)
    class Checked:
        n: int

        def __post_init__(self) -> None:
            if self.n < 0:
                raise ValueError("negative")

    assert maker(Checked, "n")(3) == Checked(3)
    with pytest.raises(ValueError, match="negative"):
        maker(Checked, "n")(-1)
