"""Salesforce activity from touches: Tasks (web visits, form fills, emails, calls), Events (meetings), and
CampaignMembers, with the subjects and types a marketing-automation + sales-engagement stack logs.

Marketing touches (web visits, form fills) are created by the marketing automation user and owned by the
record's owner, as Pardot or Marketo sync them; emails and calls are the owner's own. Activity on a lead has no
WhatId (Salesforce does not allow one with a lead WhoId); activity on a contact is related to the account.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sandbox.seed.common import DAY, HOUR, Timeline
from sandbox.seed.world import Touch, World

Row = dict[str, Any]
_EMAIL_SUBJECTS = ("Intro: {company} and Brightwave", "Following up", "Quick question, {first}",
                   "Resources you asked for", "Checking in", "Next steps", "Case study for {company}")  # fmt: skip
_REPLY_SUBJECTS = ("Re: Quick question", "Re: Following up", "Re: Next steps", "Re: Intro")
_CALL = {"connected": ("Call: connected", 300, 1800), "voicemail": ("Call: left voicemail", 20, 60),
         "no answer": ("Call: no answer", 0, 0)}  # fmt: skip


@dataclass
class ActivityRows:
    """Rows for one batch of records, inserted together."""

    tasks: list[Row] = field(default_factory=list)
    events: list[Row] = field(default_factory=list)
    members: list[Row] = field(default_factory=list)


def _stamps(tl: Timeline, m: int) -> Row:
    s = tl.sf(m)
    return {"CreatedDate": s, "LastModifiedDate": s, "SystemModstamp": s}


def touch_rows(
    rng: random.Random,
    tl: Timeline,
    world: World,
    out: ActivityRows,
    touches: list[Touch],
    *,
    who: str,
    what: str | None,
    owner: str,
    meeting_owner: str,
    automation_user: str,
    campaign_ids: list[str],
    first: str,
    company: str,
    is_lead: bool,
    floor: int,
) -> None:
    """Append the Tasks, Events and CampaignMembers for one person's touches to `out` (none before `floor`)."""
    for m, kind, detail in touches:
        if kind == "campaign":
            idx, responded = detail.split(":")
            camp = world.campaigns[int(idx)]
            row: Row = {
                "CampaignId": campaign_ids[int(idx)],
                "LeadId" if is_lead else "ContactId": who,
                "Status": "Responded" if responded == "1" else "Sent",
                "FirstRespondedDate": tl.date(camp.start) if responded == "1" else None,
                **_stamps(tl, max(floor, min(m, camp.start) - HOUR)),
            }
            out.members.append(row)
            continue
        if kind == "meeting":
            start = m
            minutes = rng.choice((30, 30, 45, 60))
            booked = max(start - rng.randrange(HOUR, 3 * DAY), floor)
            out.events.append(
                {
                    "WhoId": who, "WhatId": what, "Subject": detail or "Meeting", "ActivityDate": tl.date(start),
                    "StartDateTime": tl.sf(start), "EndDateTime": tl.sf(start + minutes), "DurationInMinutes": minutes,
                    "Type": "Meeting", "OwnerId": meeting_owner, "CreatedById": meeting_owner,
                    **_stamps(tl, min(booked, start)),
                }
            )  # fmt: skip
            continue
        task: Row = {"WhoId": who, "WhatId": what, "ActivityDate": tl.date(m), "Status": "Completed",
                     "Priority": "Normal", "OwnerId": owner, "CompletedDateTime": tl.sf(m), **_stamps(tl, m)}  # fmt: skip
        if kind in ("web", "pricing", "careers"):
            page = detail or {"pricing": "pricing page", "careers": "careers page"}.get(kind, "homepage")
            task |= {"Subject": f"Visited {page}", "Type": "Web Visit", "TaskSubtype": "Task",
                     "CreatedById": automation_user}  # fmt: skip
        elif kind == "form":
            subject = f"Downloaded {detail[8:]}" if detail.startswith("content:") else detail
            task |= {"Subject": f"Form fill: {subject}", "Type": "Form Fill", "TaskSubtype": "Task",
                     "CreatedById": automation_user,
                     "Priority": "High" if detail in ("Request a demo", "Contact sales") else "Normal"}  # fmt: skip
        elif kind == "reply":
            task |= {"Subject": f"Email reply: {rng.choice(_REPLY_SUBJECTS)}", "Type": "Email",
                     "TaskSubtype": "Email", "CreatedById": owner}  # fmt: skip
        elif kind == "email":
            subject = rng.choice(_EMAIL_SUBJECTS).format(first=first, company=company)
            task |= {
                "Subject": f"Email: {subject}",
                "Type": "Email",
                "TaskSubtype": "Email",
                "CreatedById": owner,
            }
        elif kind == "call":
            subject, lo, hi = _CALL.get(detail, _CALL["connected"])
            task |= {"Subject": subject, "Type": "Call", "TaskSubtype": "Call", "CreatedById": owner,
                     "CallDurationInSeconds": rng.randint(lo, hi) if hi else 0}  # fmt: skip
        else:
            continue
        out.tasks.append(task)


def follow_up_row(rng: random.Random, tl: Timeline, *, who: str, owner: str, first: str, created: int) -> Row:
    """An open task a rep set for themselves, due in the next week."""
    due = rng.randrange(1, 8) * DAY
    return {
        "WhoId": who, "Subject": f"Follow up with {first}", "ActivityDate": tl.date(due), "Status": "Not Started",
        "Priority": "Normal", "OwnerId": owner, "CreatedById": owner, "Type": rng.choice(("Call", "Email")),
        "TaskSubtype": "Task", **_stamps(tl, created),
    }  # fmt: skip


def last_activity_date(tl: Timeline, touches: list[Touch]) -> str | None:
    """`LastActivityDate` as Salesforce maintains it: the latest completed task or event, campaigns excluded."""
    latest = max((m for m, kind, _ in touches if kind != "campaign"), default=None)
    return tl.date(latest) if latest is not None else None
