"""One CRM's records in memory between cycles: people, accounts, opportunities, and the account graph.

A long-running daemon keeps its `World` across cycles and feeds it what each pull brings; a fresh process
rebuilds it from the raw records the state store kept (`World.rebuild`), so both see the same graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from mappings import Account, CanonicalRecord, Crm, CrmMapping, Lead, Opportunity, Task, translate_batch
from scoring.graph import AccountGraph
from sync.fields import pull_objects
from sync.state import StateStore
from sync.state.columns import JSONValue

REBUILD_PAGE = 5000


@dataclass
class Applied:
    """What applying a batch of records changed: the people to re-score, the accounts all of whose people
    are to be re-scored (`World.people_at` names them), and the review tasks seen."""

    rescore: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    tasks: list[Task] = field(default_factory=list)


class World:
    """Canonical records of one CRM and their account graph."""

    def __init__(self, crm: Crm) -> None:
        self.crm = crm
        self.people: dict[str, Lead] = {}
        self.accounts: dict[str, Account] = {}
        self.opportunities: dict[str, Opportunity] = {}
        self.graph = AccountGraph()

    def apply(self, records: Iterable[CanonicalRecord]) -> Applied:
        """Add, update or (records flagged `deleted`) remove records; returns who needs re-scoring."""
        people: list[Lead] = []
        accounts: list[Account] = []
        opportunities: list[Opportunity] = []
        activities = []
        out = Applied()
        for record in records:
            if isinstance(record, Lead):
                people.append(record)
            elif isinstance(record, Account):
                accounts.append(record)
            elif isinstance(record, Opportunity):
                opportunities.append(record)
            elif isinstance(record, Task):
                out.tasks.append(record)
            else:
                activities.append(record)
        for person in people:
            if person.deleted:
                self.people.pop(person.id, None)
            else:
                self.people[person.id] = person
        for account in accounts:
            if account.deleted:
                self.accounts.pop(account.id, None)
            else:
                self.accounts[account.id] = account
        for opportunity in opportunities:
            if opportunity.deleted:
                self.opportunities.pop(opportunity.id, None)
            else:
                self.opportunities[opportunity.id] = opportunity
        contacts = [p for p in people if p.kind == "contact"]
        leads = [p for p in people if p.kind != "contact"]
        changes = self.graph.apply(
            accounts=accounts,
            contacts=contacts,
            leads=leads,
            opportunities=opportunities,
            activities=activities,
        )
        crm, known = self.crm, self.people
        out.rescore = {lead_id for of, lead_id in changes.people if of == crm and lead_id in known}
        out.accounts = {account_id for of, account_id in changes.accounts if of == crm}
        return out

    def people_at(self, account_ids: Iterable[str]) -> set[str]:
        """The known people who work at or were matched to any of these accounts."""
        crm, known = self.crm, self.people
        found = self.graph.people_at((crm, account_id) for account_id in account_ids)
        return {lead_id for of, lead_id in found if of == crm and lead_id in known}

    def refresh(self, echoes: Iterable[Lead]) -> None:
        """Take people whose only change was our own write as pulled now (their writeback values are fresh;
        nothing the graph knows changed)."""
        kept = [person for person in echoes if person.id in self.people]
        for person in kept:
            self.people[person.id] = person
        self.graph.refresh(kept)  # or the graph keeps the previous record of unlinked people alive

    def remove(self, records: Iterable[CanonicalRecord]) -> Applied:
        """Forget deleted records (their ids are all the CRM still tells us)."""
        return self.apply(records)

    @classmethod
    def rebuild(
        cls, crm: Crm, store: StateStore, mapping: CrmMapping, *, now: datetime | None = None
    ) -> World:
        """The world as the stored raw records describe it (a fresh process's first step).

        `now` anchors age features as a pull's `run_started` does (default: the current time): a restarted
        process must see the people a continuous one would."""
        world = cls(crm)
        for obj in pull_objects(crm, mapping):
            # A page at a time, in pull order, as a cycle's pull feeds it: memory stays one page.
            raws: list[JSONValue] = []
            for _, values in store.iter_snapshot_values(crm, obj):
                raws.append(values)
                if len(raws) >= REBUILD_PAGE:
                    world.apply(translate_batch(crm, obj, raws, mapping, now=now).records)
                    raws = []
            if raws:
                world.apply(translate_batch(crm, obj, raws, mapping, now=now).records)
        return world
