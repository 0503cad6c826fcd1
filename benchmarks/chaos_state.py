"""The CRM's end state as the sandbox store holds it, compared field by field and task by task.

Read straight from a stopped sandbox's SQLite file: every writeback field of every lead and contact
(Salesforce) and contact (HubSpot), and every leadq review task by its idempotency key with what a person
sees on it (subject, body, due date, owner, priority, who it is about). Also the outbox figures of a
leadq state database (items, attempts, parked items and their reasons).
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mappings import RECORD_SLOTS, LeadqConfig

# A model version names its training's wall-clock time (`20261127-001231-a0a9971f`): two runs that train
# the same model on the same labels name it differently. Versions are compared by name-free placeholder;
# the scores, tiers and reasons the model produced are compared as they are.
MODEL_VERSION = re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{8}\b")
Key = tuple[str, str, str]  # (crm, record or task key, field)
SF_TASK_FIELDS = ("Subject", "Description", "ActivityDate", "OwnerId", "Priority", "WhoId", "Status")
HS_TASK_FIELDS = ("hs_task_subject", "hs_task_body", "hs_timestamp", "hubspot_owner_id", "hs_task_priority",
                  "hs_task_status")  # fmt: skip


@dataclass
class EndState:
    """Writeback values per (crm, record, field), and leadq tasks per key (a key seen twice is a duplicate)."""

    fields: dict[Key, Any] = field(default_factory=dict)
    tasks: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    model_versions: set[str] = field(default_factory=set)

    def plain(self, value: Any) -> Any:
        """`value` with model version names replaced by a placeholder (the names are kept aside)."""
        if isinstance(value, str):
            self.model_versions.update(MODEL_VERSION.findall(value))
            return MODEL_VERSION.sub("<model>", value)
        return value

    @property
    def written(self) -> int:
        return sum(1 for v in self.fields.values() if v is not None)

    @property
    def task_count(self) -> int:
        return sum(len(v) for v in self.tasks.values())


def _writeback(config: LeadqConfig, crm: str) -> list[str]:
    block = config.crm(crm)
    if block is None:
        return []
    return [block.writeback.field_for(slot).field for slot in RECORD_SLOTS]


def _task_key(config: LeadqConfig, crm: str) -> str:
    block = config.crm(crm)
    assert block is not None
    return block.writeback.field_for("task_key").field


def read_end_state(db: Path, config: LeadqConfig, crms: tuple[str, ...]) -> EndState:
    """Every writeback field and leadq task in the org file `db` (the sandbox must be stopped)."""
    state = EndState()
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        if "salesforce" in crms:
            names = _writeback(config, "salesforce")
            for obj in ("Lead", "Contact"):
                columns = {r["name"] for r in conn.execute(f'PRAGMA table_info("sf_{obj}")')}
                present = [n for n in names if n in columns]
                where = " WHERE IsDeleted = 0" if "IsDeleted" in columns else ""
                cols = ", ".join(f'"{n}"' for n in ["Id", *present])
                for row in conn.execute(f'SELECT {cols} FROM "sf_{obj}"{where}'):
                    for n in present:
                        state.fields[("salesforce", row["Id"], n)] = state.plain(row[n])
            key = _task_key(config, "salesforce")
            for row in conn.execute(f'SELECT * FROM "sf_Task" WHERE "{key}" IS NOT NULL'):
                seen = {n: state.plain(row[n]) for n in SF_TASK_FIELDS if n in row.keys()}  # noqa: SIM118 (sqlite3.Row)
                state.tasks.setdefault(("salesforce", row[key]), []).append(seen)
        if "hubspot" in crms:
            names = _writeback(config, "hubspot")
            for row in conn.execute(
                "SELECT id, props FROM hs_object WHERE type = 'contacts' AND archived = 0"
            ):
                props = json.loads(row["props"])
                for n in names:
                    state.fields[("hubspot", str(row["id"]), n)] = state.plain(props.get(n))
            key = _task_key(config, "hubspot")
            who: dict[int, list[int]] = {}
            for row in conn.execute(
                "SELECT from_id, to_id FROM hs_assoc WHERE from_type = 'tasks' AND to_type = 'contacts'"
            ):
                who.setdefault(int(row["from_id"]), []).append(int(row["to_id"]))
            for row in conn.execute("SELECT id, props FROM hs_object WHERE type = 'tasks' AND archived = 0"):
                props = json.loads(row["props"])
                if props.get(key):
                    seen = {n: state.plain(props.get(n)) for n in HS_TASK_FIELDS}
                    seen["contacts"] = sorted(who.get(int(row["id"]), []))
                    state.tasks.setdefault(("hubspot", props[key]), []).append(seen)
    finally:
        conn.close()
    return state


@dataclass
class Comparison:
    """How an end state differs from the fault-free reference."""

    lost_fields: int = 0  # a value the reference wrote is missing
    wrong_fields: int = 0  # a different value than the reference's
    unexpected_fields: int = 0  # a value where the reference wrote none
    lost_tasks: int = 0
    duplicate_tasks: int = 0  # copies beyond the first of one key
    extra_tasks: int = 0  # keys the reference never created
    differing_tasks: int = 0  # same key, different subject/body/due/owner/priority/who
    examples: list[str] = field(default_factory=list)

    @property
    def lost_writes(self) -> int:
        """Field values and tasks the reference has that this state lacks or has otherwise."""
        return self.lost_fields + self.wrong_fields + self.lost_tasks + self.differing_tasks

    def note(self, text: str) -> None:
        if len(self.examples) < 8:
            self.examples.append(text)


def compare(reference: EndState, other: EndState) -> Comparison:
    """Field by field and task by task, `other` against `reference`."""
    out = Comparison()
    for key in reference.fields.keys() | other.fields.keys():
        want, got = reference.fields.get(key), other.fields.get(key)
        if want == got:
            continue
        if want is not None and got is None:
            out.lost_fields += 1
        elif want is None:
            out.unexpected_fields += 1
        else:
            out.wrong_fields += 1
        out.note(f"{key[0]} {key[1]} {key[2]}: reference {str(want)[:60]!r}, got {str(got)[:60]!r}")
    for task in reference.tasks.keys() | other.tasks.keys():
        want_tasks, got_tasks = reference.tasks.get(task, []), other.tasks.get(task, [])
        if got_tasks:
            out.duplicate_tasks += len(got_tasks) - 1
        if not want_tasks:
            out.extra_tasks += len(got_tasks) > 0
            out.note(f"{task[0]} task {task[1]}: not in the reference")
        elif not got_tasks:
            out.lost_tasks += 1
            out.note(f"{task[0]} task {task[1]}: missing")
        elif got_tasks[0] != want_tasks[0]:
            out.differing_tasks += 1
            out.note(f"{task[0]} task {task[1]}: {got_tasks[0]} != {want_tasks[0]}")
    return out


@dataclass
class OutboxFigures:
    """What a leadq state database's outbox says: items and send attempts per kind, parked items."""

    items: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    parked: list[str] = field(default_factory=list)  # reasons, one per parked item

    @property
    def sent(self) -> int:
        """Record updates and tasks sent to the CRM, retries included."""
        return sum(self.attempts.values())


def outbox_figures(state_db: Path) -> OutboxFigures:
    """The outbox of a (stopped) leadq SQLite state database."""
    figures = OutboxFigures()
    conn = sqlite3.connect(state_db)
    try:
        for kind, state, count, attempts in conn.execute(
            "SELECT kind, state, COUNT(*), SUM(attempts) FROM outbox GROUP BY kind, state"
        ):
            figures.items[kind] += count
            figures.attempts[kind] += attempts or 0
            figures.states[state] += count
        figures.parked = [
            str(r[0]) for r in conn.execute("SELECT last_error FROM outbox WHERE state = 'parked'")
        ]
    finally:
        conn.close()
    return figures


def score_counts(state_db: Path, since: str | None = None) -> Counter[tuple[str, str]]:
    """Score history rows per (crm, lead id), those scored at or after `since` (naive UTC ISO) when given."""
    conn = sqlite3.connect(state_db)
    try:
        query = "SELECT crm, lead_id, COUNT(*) FROM score_history"
        params: tuple[str, ...] = ()
        if since is not None:
            query += " WHERE scored_at >= ?"
            params = (since,)
        rows = conn.execute(query + " GROUP BY crm, lead_id", params).fetchall()
    finally:
        conn.close()
    return Counter({(str(c), str(i)): int(n) for c, i, n in rows})


def runs_of(state_db: Path) -> list[tuple[str, str | None, str]]:
    """(started_at, finished_at, status) of every run in the run history, oldest first."""
    conn = sqlite3.connect(state_db)
    try:
        return [(str(a), None if b is None else str(b), str(s)) for a, b, s in
                conn.execute("SELECT started_at, finished_at, status FROM runs ORDER BY id")]  # fmt: skip
    finally:
        conn.close()
