"""The Salesforce REST API surface of the sandbox."""

from __future__ import annotations

from starlette.routing import BaseRoute

from sandbox.salesforce import bulk2, collections, composite, oauth, query, sobjects, tooling, versions


def routes() -> list[BaseRoute]:
    """Every Salesforce route, most specific first."""
    return [
        *versions.ROUTES,
        *oauth.ROUTES,
        *query.ROUTES,
        *collections.ROUTES,
        *composite.ROUTES,
        *bulk2.ROUTES,
        *tooling.ROUTES,
        *sobjects.ROUTES,
    ]
