"""Why each person was scored: the trigger kept with every score in the history."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings import Lead
from sandbox import SandboxServer
from sync.cli_ops_lead import versions
from sync.context import CycleContext
from sync.cycle import run_cycle
from sync.triggers import TRIGGER_TEXT, Trigger, triggers_of
from tests.sync.crm_access import TITLE, Org
from tests.sync.cycle_fixtures import (
    close,
    seeded_sandbox,
    set_up_context,
)

IDS = st.sets(st.sampled_from([f"p{i}" for i in range(12)]))


def _people(ids: set[str]) -> list[Lead]:
    return [Lead(id=i, crm="salesforce", kind="lead") for i in sorted(ids)]


@given(IDS, IDS, IDS, IDS, st.sampled_from([None, "model", "daily"]))
def test_every_person_gets_the_most_specific_trigger(
    people: set[str],
    changed: set[str],
    reviewed: set[str],
    context_changed: set[str],
    everyone: Trigger | None,
) -> None:
    got = triggers_of(_people(people), changed, reviewed, context_changed, everyone)
    assert set(got) == people
    for i, trigger in got.items():
        if i in changed:
            assert trigger == "changed"
        elif i in reviewed:
            assert trigger == "review"
        elif i in context_changed:
            assert trigger == "context"
        else:
            assert trigger == (everyone or "context")
        assert trigger in TRIGGER_TEXT


@pytest.fixture()
def server(sandbox_state_dir: Path) -> Iterator[SandboxServer]:
    with seeded_sandbox(sandbox_state_dir, leads=30) as running:
        yield running


def _latest_triggers(ctx: CycleContext, crm: str, ids: list[str]) -> dict[str, object]:
    return {i: versions(ctx.store.score_history(crm, i, limit=1), 1)[0]["trigger"] for i in ids}


@pytest.mark.parametrize("crm", ["salesforce", "hubspot"])
def test_history_says_whether_a_person_changed_or_was_rescored_for_another_reason(
    tmp_path: Path, server: SandboxServer, crm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = set_up_context(tmp_path, server, crm, monkeypatch)
    org = Org(server, crm)
    try:
        first = run_cycle(ctx).crms[crm]
        scored = [i for i, v in org.scores().items() if v is not None]
        assert len(scored) == first.scored
        assert set(_latest_triggers(ctx, crm, scored).values()) == {"changed"}  # a first pull is all new

        person = scored[0]
        org.update(person, {TITLE[crm]: "Head of Revenue Operations"})
        second = run_cycle(ctx).crms[crm]
        assert second.scored >= 1
        rescored = [i for i in scored if len(ctx.store.score_history(crm, i)) == 2]
        assert person in rescored and len(rescored) == second.scored
        now = _latest_triggers(ctx, crm, rescored)
        assert now[person] == "changed"
        assert Counter(now.values())["changed"] == 1  # colleagues re-scored only for their context

        ctx.store.set_cursor(crm, "scored_with_model", {"value": "an-older-champion"})
        run_cycle(ctx)
        after_model = _latest_triggers(ctx, crm, scored)
        assert set(after_model.values()) == {"model"}  # nothing changed in the CRM: everyone for the model
        audit = [e for e in ctx.store.audit_export() if e["action"] == "scored" and e["record_id"] == person]
        assert [e["new"]["trigger"] for e in audit] == ["changed", "changed", "model"]
    finally:
        close(ctx)
