"""`leadq demo`: the product on the embedded sandbox org (what `make demo` runs)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import requests
import typer
from hubspot import HubSpot
from hubspot.crm.contacts import PublicObjectSearchRequest
from rich.console import Console
from rich.table import Table
from simple_salesforce.api import Salesforce

from sandbox.server import DEFAULT_STATE_DIR, SandboxOptions, SandboxServer
from sync.progress import progress_bar

console = Console()


def _salesforce(server: SandboxServer) -> Salesforce:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE must not override the sandbox CA
    session.verify = str(server.ca_path)
    return Salesforce(instance_url=server.url, session_id=server.token, session=session)


def _hubspot(server: SandboxServer) -> HubSpot:
    return HubSpot(access_token=server.token, host=server.url, ssl_ca_cert=str(server.ca_path))


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def _show_salesforce(sf: Salesforce) -> None:
    counts = {
        obj: sf.query(f"SELECT COUNT() FROM {obj}")["totalSize"]
        for obj in ("Lead", "Account", "Contact", "Opportunity", "Task")
    }
    console.print(
        "[bold]Salesforce[/] (simple-salesforce):", ", ".join(f"{n:,} {o}" for o, n in counts.items())
    )
    leads = sf.query(
        "SELECT Name, Company, Title, LeadSource, Status, Email, Owner.Name FROM Lead "
        "WHERE IsConverted = false ORDER BY CreatedDate DESC LIMIT 5"
    )["records"]
    console.print(
        _table(
            "Newest open leads",
            ["Name", "Company", "Title", "Source", "Status", "Email", "Owner"],
            [
                [
                    r["Name"],
                    r["Company"],
                    r["Title"],
                    r["LeadSource"],
                    r["Status"],
                    r["Email"],
                    (r["Owner"] or {}).get("Name"),
                ]
                for r in leads
            ],
        )
    )
    accounts = sf.query(
        "SELECT Name, Type, Industry, NumberOfEmployees, Website, Parent.Name FROM Account "
        "WHERE ParentId != null ORDER BY NumberOfEmployees DESC LIMIT 5"
    )["records"]
    console.print(
        _table(
            "Subsidiaries and their parents",
            ["Account", "Type", "Industry", "Employees", "Website", "Parent"],
            [
                [
                    r["Name"],
                    r["Type"],
                    r["Industry"],
                    r["NumberOfEmployees"],
                    r["Website"],
                    (r["Parent"] or {}).get("Name"),
                ]
                for r in accounts
            ],
        )
    )


def _show_hubspot(hs: HubSpot) -> None:
    search = PublicObjectSearchRequest(
        filter_groups=[
            {"filters": [{"propertyName": "lifecyclestage", "operator": "NEQ", "value": "customer"}]}
        ],
        sorts=[{"propertyName": "createdate", "direction": "DESCENDING"}],
        properties=[
            "firstname",
            "lastname",
            "company",
            "jobtitle",
            "lifecyclestage",
            "hs_analytics_source",
            "email",
        ],
        limit=5,
    )
    contacts = hs.crm.contacts.search_api.do_search(public_object_search_request=search)
    console.print(f"[bold]HubSpot[/] (hubspot-api-client): {contacts.total:,} contacts not yet customers")
    console.print(
        _table(
            "Newest contacts",
            ["Name", "Company", "Job title", "Lifecycle", "Source", "Email"],
            [
                [
                    f"{c.properties.get('firstname') or ''} {c.properties.get('lastname') or ''}".strip(),
                    c.properties.get("company"),
                    c.properties.get("jobtitle"),
                    c.properties.get("lifecyclestage"),
                    c.properties.get("hs_analytics_source"),
                    c.properties.get("email"),
                ]
                for c in contacts.results
            ],
        )
    )
    companies = hs.crm.companies.basic_api.get_page(
        limit=5, properties=["name", "domain", "industry", "numberofemployees", "lifecyclestage"]
    )
    console.print(
        _table(
            "Companies",
            ["Company", "Domain", "Industry", "Employees", "Lifecycle"],
            [
                [
                    c.properties.get("name"),
                    c.properties.get("domain"),
                    c.properties.get("industry"),
                    c.properties.get("numberofemployees"),
                    c.properties.get("lifecyclestage"),
                ]
                for c in companies.results
            ],
        )
    )


def demo(
    leads: Annotated[int, typer.Option(help="Leads (and HubSpot contacts) in the seeded org.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Random seed of the seeded org.")] = 7,
) -> None:
    """Start the sandbox with a seeded org and show it through the real Salesforce and HubSpot clients."""
    from sandbox.seed import seed_org

    started = time.perf_counter()
    server = SandboxServer(SandboxOptions(state_dir=DEFAULT_STATE_DIR))
    with progress_bar() as progress:
        summary = seed_org(server.store, leads=leads, seed=seed, progress=progress)
    server.start()
    try:
        console.print(
            f"[bold]leadq sandbox[/] on [cyan]{server.url}[/] (CA bundle {server.ca_path.resolve()})"
        )
        console.print(f"seeded org (seed {seed}): " + ", ".join(f"{k} {v:,}" for k, v in summary.items()))
        _show_salesforce(_salesforce(server))
        _show_hubspot(_hubspot(server))
        calls = server.state.log.snapshot()["counters"]
        console.print(
            f"{sum(calls.values())} API calls through the real clients; "
            f"demo took {time.perf_counter() - started:.1f} s. "
            "Serve the sandbox yourself with `leadq sandbox serve --seed-leads 2000`."
        )
    finally:
        server.stop()
