"""HubSpot translation's shortcuts (plain association ids, remembered stage-date properties) change nothing.

The reference readings below are `mappings.from_hubspot` as it was before them; hypothesis feeds both the
connector's own association blocks and hostile ones.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mappings import default_mapping, translate_batch
from mappings.config.crm import LifecycleStageLabel
from mappings.field_reader import FieldReader
from mappings.from_hubspot import _summary, associated
from mappings.records import Contact
from mappings.wire import MAPPING_TYPES, BadValue, read_id
from tests.mappings.test_hostile import NASTY, hubspot_records

NOW = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
MAPPING = default_mapping("hubspot")


def reference_associated(r: FieldReader, object_type: str) -> tuple[str, ...]:
    """`associated` before its shortcut for plain ids."""
    block = r.raw.get("associations")
    group = block.get(object_type) if isinstance(block, MAPPING_TYPES) else None
    results = group.get("results") if isinstance(group, MAPPING_TYPES) else None
    if results is None:
        return ()
    path = f"associations.{object_type}"
    if not isinstance(results, list):
        r.problem(path, results, "expected a list of associations")
        return ()
    ids: list[str] = []
    for item in results:
        try:
            found = read_id(item.get("id")) if isinstance(item, MAPPING_TYPES) else None
        except BadValue as exc:
            r.problem(path, item, str(exc))
            continue
        if found and found not in ids:
            ids.append(found)
    return tuple(ids)


_plain_ids = st.sampled_from(["1", "100000001", "100000002", "abc", "x" * 255, "x" * 256, "1.5", "a-b"])
_odd_ids = st.one_of(_plain_ids, st.sampled_from(NASTY), st.integers(-5, 10**20), st.booleans(), st.none())
_items = st.one_of(
    st.fixed_dictionaries({"id": _plain_ids}),
    st.fixed_dictionaries({"id": _odd_ids}),
    st.fixed_dictionaries({}, optional={"id": _odd_ids, "type": st.text(max_size=3)}),
    _odd_ids,
)
_blocks = st.dictionaries(
    st.sampled_from(["contacts", "companies"]),
    st.one_of(
        st.fixed_dictionaries({"results": st.lists(_items, max_size=5)}),
        st.fixed_dictionaries({"results": st.lists(st.fixed_dictionaries({"id": _plain_ids}), max_size=4)}),
        st.fixed_dictionaries({"results": _odd_ids}),
        _odd_ids,
    ),
)


def _shown(reader: FieldReader) -> list[tuple[str, str, str]]:
    return [(p.field, repr(p.value), p.message) for p in reader.problems]


@settings(max_examples=400, deadline=None)
@given(block=st.one_of(_blocks, _odd_ids), object_type=st.sampled_from(["contacts", "companies", "deals"]))
def test_associated_ids_and_problems_are_the_references(block: Any, object_type: str) -> None:
    raw = {"id": "7", "associations": block}
    new, old = (FieldReader("hubspot", raw, "7", "tasks") for _ in range(2))
    assert associated(new, object_type) == reference_associated(old, object_type)
    assert _shown(new) == _shown(old)


@settings(max_examples=200, deadline=None)
@given(raw=hubspot_records(), object_name=st.sampled_from(["contacts", "deals", "tasks", "notes"]))
def test_associated_agrees_on_hostile_records(raw: Any, object_name: str) -> None:
    if not isinstance(raw, dict):
        return
    for object_type in ("contacts", "companies"):
        new, old = (FieldReader("hubspot", raw, "7", object_name) for _ in range(2))
        assert associated(new, object_type) == reference_associated(old, object_type)
        assert _shown(new) == _shown(old)


_stamps = st.one_of(
    st.none(), st.sampled_from(NASTY), st.sampled_from(["2024-01-02T03:04:05.000Z", "1700000000000"])
)


@settings(max_examples=200, deadline=None)
@given(dates=st.dictionaries(st.sampled_from(["salesqualifiedlead", "opportunity", "customer", "lead"]), _stamps),
       stage=st.sampled_from(["customer", "Opportunity", "lead", "", None]))  # fmt: skip
def test_converted_at_reads_each_stage_date_the_label_names(dates: dict[str, Any], stage: str | None) -> None:
    raw: dict[str, Any] = {"id": "9", "lifecyclestage": stage}
    raw.update({f"hs_lifecyclestage_{name}_date": value for name, value in dates.items()})
    batch = translate_batch("hubspot", "contacts", [raw], MAPPING, now=NOW)
    label = MAPPING.label
    assert isinstance(label, LifecycleStageLabel)
    reference = FieldReader("hubspot", raw, "9", "contacts")
    moments = [reference.timestamp(f"hs_lifecyclestage_{name}_date") for name in label.stages]
    (record,) = batch.records
    assert isinstance(record, Contact)
    assert record.converted_at == min((m for m in moments if m), default=None)
    assert record.is_converted == ((stage or "").casefold() in label.stages)
    stage_problems = [
        (p.field, p.message) for p in batch.problems if p.field.startswith("hs_lifecyclestage_")
    ]
    assert stage_problems == [(p.field, p.message) for p in reference.problems]


def reference_summary(text: str | None) -> str | None:
    """`_summary` before it remembered its readings."""
    if not text:
        return None
    plain = " ".join(re.sub(r"<[^>]*>", " ", text).split())
    return (plain[:255] if len(plain) <= 255 else plain[:254] + "…") or None


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.sampled_from(NASTY), st.text(alphabet="<>p/ ab\n", max_size=300)), max_size=8
    )
)
def test_note_subjects_are_the_references_the_first_time_and_after(texts: list[str | None]) -> None:
    for text in [*texts, *texts]:
        assert _summary(text) == reference_summary(text)
