"""Hostile records through translation, scoring and real cycles: nothing crashes, every bad value is
reported naming its record and field, every readable record is scored and its score lands in the CRM.

The hostile Leads and contacts are written straight into the sandbox's store (as a careless import or
another integration would leave them), mixed with good ones, then a real cycle runs through the real
clients. `records_tried` (a test property, also printed) is the figure the README reports.
"""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings import Lead, parse_config, render_default_config, translate_batch
from sandbox import SandboxServer
from scoring.pipeline import Pipeline
from sync.context import CycleContext
from sync.cycle import run_cycle
from sync.world import World
from tests.mappings.hostile_values import RATING_CATEGORIES, HostileRecord, records
from tests.sync.cycle_fixtures import close, context, load, sandbox_config, seeded_sandbox, set_up

CRMS = ("salesforce", "hubspot")
SCORE = {"salesforce": "leadq_Score__c", "hubspot": "leadq_score"}
TRIED: Counter[str] = Counter()
_serial = itertools.count(1)
# Ids Salesforce would never issue: the record cannot be used at all and must be quarantined.
BAD_IDS = ["00Q' OR Id != null", "00Q\\'--", "00Q 😀", "00Q%_", "' OR ''='"]


def _summary(record_property: Any, *keys: str) -> None:
    """Record (and print) how many records a test tried: the README's "records fuzzed" figure."""
    tried = {key: TRIED[key] for key in keys}
    record_property("records_tried", tried)
    print(f"\nrecords tried: {tried}")


# ---------------------------------------------------------------------------------------------- pure
NOW = datetime(2024, 6, 1, tzinfo=UTC)
PURE = int(os.environ.get("LEADQ_HOSTILE_EXAMPLES", "100"))  # examples per CRM; the README runs more
CONFIG = parse_config(
    render_default_config(crms=CRMS, sandbox_url="https://sandbox.invalid", ca_bundle="/ca.pem").replace(
        *next(iter(RATING_CATEGORIES.items()))
    ),
    resolve=False,
)


def _wire(crm: str, record_id: str, record: HostileRecord) -> dict[str, Any]:
    if crm == "hubspot":
        return {"id": record_id, "properties": {k: v for k, v in record.values.items() if v is not None}}
    values = dict(record.values)
    # A checkbox holds true or false; what else a careless import put there reads back as null.
    values["HasOptedOutOfEmail"] = (
        values["HasOptedOutOfEmail"] if isinstance(values["HasOptedOutOfEmail"], bool) else None
    )
    return {"attributes": {"type": "Lead"}, "Id": record_id, "IsDeleted": False, "IsConverted": False,
            "Status": "Open - Not Contacted", "SystemModstamp": "2024-05-01T00:00:00.000+0000", **values}  # fmt: skip


UNUSABLE: dict[str, list[tuple[Any, str]]] = {
    # (raw record, the field its quarantine names)
    "salesforce": [(None, "<record>"), ([1, 2], "<record>"), ({"Name": "x"}, "Id"), ({"Id": "00Q' OR ''='"}, "Id")],
    "hubspot": [("contact", "<record>"), ({"properties": {}}, "id"), ({"id": "7", "properties": "x=1"}, "properties"),
                ({"id": "8", "properties": None}, "properties"), ({"id": {"v": 1}, "properties": {}}, "id")],
}  # fmt: skip


@pytest.mark.parametrize("crm", CRMS)
def test_translation_and_scoring_survive_hostile_batches(crm: str, record_property: Any) -> None:
    mapping = CONFIG.crm(crm)
    assert mapping is not None
    pipeline = Pipeline.build(CONFIG.scoring, CONFIG.review, mapping.features, crm=crm)  # type: ignore[arg-type]

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        batch=st.lists(
            st.one_of(records(crm, hostile=True), records(crm, hostile=False)), min_size=1, max_size=6
        ),
        unusable=st.lists(st.sampled_from(UNUSABLE[crm]), max_size=2),
    )
    def run(batch: list[HostileRecord], unusable: list[tuple[Any, str]]) -> None:
        ids = [f"00Q{n:015d}" if crm == "salesforce" else str(n) for n in range(1, len(batch) + 1)]
        raws: list[Any] = [_wire(crm, i, r) for i, r in zip(ids, batch, strict=True)]
        raws += [raw for raw, _ in unusable]
        TRIED[f"{crm} (pure)"] += len(raws)
        translated = translate_batch(
            crm, "Lead" if crm == "salesforce" else "contacts", raws, mapping, now=NOW
        )
        assert [r.id for r in translated.records] == ids  # every readable record, none of the others
        reported = {(p.record_id, p.field) for p in translated.problems if not p.quarantined}
        expected = {(i, f) for i, r in zip(ids, batch, strict=True) for f in r.bad}
        assert expected <= reported, expected - reported
        assert {i for i, _ in reported} <= {
            i for i, r in zip(ids, batch, strict=True) if r.bad
        }  # no false alarm
        assert sorted(p.field for p in translated.problems if p.quarantined) == sorted(f for _, f in unusable)

        world = World(crm)  # type: ignore[arg-type]
        world.apply(translated.records)
        people = [r for r in translated.records if isinstance(r, Lead)]
        decided = pipeline.decide(people, world.graph, now=NOW)
        assert sorted(d.lead_id for d in decided.decisions) == sorted(ids)
        for decision in decided.decisions:
            assert 0 <= decision.score <= 100 and decision.tier in ("A", "B", "C", "D")
            assert not any(ord(c) < 32 and c not in "\n\t" for c in decision.reasons_text)

    run()
    _summary(record_property, f"{crm} (pure)")


# ---------------------------------------------------------------------------------------------- cycles
@dataclass
class Org:
    server: SandboxServer
    ctx: CycleContext
    written: dict[str, set[str]]  # crm -> every readable hostile or good record written so far
    bad_ids: int = 0  # Salesforce records inserted with an unusable id so far


@pytest.fixture(scope="module")
def org(sandbox_state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    """One seeded org with leadq set up and its first cycle done; the examples add to it."""
    folder = tmp_path_factory.mktemp("hostile")
    with seeded_sandbox(sandbox_state_dir, leads=15) as server, pytest.MonkeyPatch.context() as env:
        config = load(sandbox_config(folder, server, replace=RATING_CATEGORIES), server, env)
        set_up(config)
        ctx = context(config, folder)
        try:
            first = run_cycle(ctx)
            assert first.error is None and all(r.scored > 0 for r in first.crms.values())
            yield Org(server, ctx, {crm: set() for crm in CRMS})
        finally:
            close(ctx)


def _insert(server: SandboxServer, crm: str, batch: list[HostileRecord], bad_ids: list[str]) -> list[str]:
    store = server.store
    if crm == "salesforce":
        rows = [{"Status": "Open - Not Contacted", **r.values} for r in batch]
        rows += [
            {"Id": f"{bad} {next(_serial)}", "LastName": "Quarantined", "Company": "x"} for bad in bad_ids
        ]
        return store.sf_insert_many("Lead", rows)[: len(batch)]
    created = store.hs_insert_many(
        "contacts", [{k: v for k, v in r.values.items() if v is not None} for r in batch]
    )
    for record, hostile in zip(created, batch, strict=True):
        if hostile.values.get("createdate") is not None:  # the store stamps createdate on insert
            store.hs_update("contacts", record.id, {"createdate": hostile.values["createdate"]})
    return [str(r.id) for r in created]


def _crm_score(server: SandboxServer, crm: str, record_id: str) -> Any:
    if crm == "salesforce":
        row = server.store.sf_get("Lead", record_id)
        return None if row is None else row[SCORE[crm]]
    found = server.store.hs_get("contacts", int(record_id))
    value = None if found is None else found.props.get(SCORE[crm])
    return None if value in (None, "") else float(value)


CYCLES = int(os.environ.get("LEADQ_HOSTILE_CYCLES", "8"))


def test_cycles_report_every_bad_value_and_score_and_write_every_readable_record(
    org: Org, record_property: Any
) -> None:
    @settings(max_examples=CYCLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(
        sf=st.lists(st.one_of(records("salesforce", hostile=True), records("salesforce", hostile=False)), min_size=1, max_size=5),
        hs=st.lists(st.one_of(records("hubspot", hostile=True), records("hubspot", hostile=False)), min_size=1, max_size=5),
        bad_ids=st.lists(st.sampled_from(BAD_IDS), max_size=2),
    )  # fmt: skip
    def run(sf: list[HostileRecord], hs: list[HostileRecord], bad_ids: list[str]) -> None:
        one_cycle(org, {"salesforce": sf, "hubspot": hs}, bad_ids)

    run()
    _summary(record_property, "salesforce (cycle)", "hubspot (cycle)")


def one_cycle(org: Org, batches: dict[str, list[HostileRecord]], bad_ids: list[str]) -> None:
    """Insert the batches, run one cycle, check what it reported, scored and wrote."""
    ctx, server = org.ctx, org.server
    inserted = {
        crm: _insert(server, crm, batches[crm], bad_ids if crm == "salesforce" else []) for crm in CRMS
    }
    for crm in CRMS:
        TRIED[f"{crm} (cycle)"] += len(inserted[crm]) + (len(bad_ids) if crm == "salesforce" else 0)

    report = run_cycle(ctx)

    assert report.error is None and report.status == "succeeded", report.to_json()
    quarantined = [e for e in ctx.store.audit_export() if e["action"] == "record_quarantined"]
    noted = {(e["record_id"], e["field"]) for e in quarantined}
    for crm in CRMS:
        out = report.crms[crm]
        assert out.stopped is None and out.pending == 0 and out.write_failures == 0 and out.parked == 0
        ids = inserted[crm]
        expected = {(i, f) for i, r in zip(ids, batches[crm], strict=True) for f in r.bad}
        assert expected <= noted, expected - noted  # each bad value: reason, record and field
        good = {i for i, r in zip(ids, batches[crm], strict=True) if not r.bad}
        assert not [e for e in quarantined if e["record_id"] in good]  # and nothing said of good records
        assert all(e["detail"]["reason"] for e in quarantined)
        quarantined_whole = len(bad_ids) if crm == "salesforce" else 0
        assert out.rejected >= sum(1 for r in batches[crm] if r.bad) + quarantined_whole
        # Every readable record of the batch, hostile or not, is scored and its score is in the CRM; every
        # record of earlier batches keeps its score.
        org.written[crm].update(ids)
        stored = ctx.store.latest_scores(crm, sorted(org.written[crm]))
        assert set(stored) == org.written[crm]
        assert {i: _crm_score(server, crm, i) for i in ids} == {i: float(stored[i].score) for i in ids}
        assert all(_crm_score(server, crm, i) is not None for i in org.written[crm])
    # A record without a usable id is quarantined whole, never scored, and does not stop the batch.
    whole = [
        e
        for e in quarantined
        if e["field"] == "Id" and e["detail"]["reason"].startswith("record quarantined")
    ]
    assert len(whole) >= len(bad_ids) + org.bad_ids
    org.bad_ids += len(bad_ids)
