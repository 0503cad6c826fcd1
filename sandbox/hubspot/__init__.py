"""The HubSpot CRM v3 API surface of the sandbox."""

from __future__ import annotations

from starlette.routing import BaseRoute

from sandbox.hubspot import associations, batch, oauth, objects, owners, properties, search, token_info


def routes() -> list[BaseRoute]:
    """Every HubSpot route, most specific first."""
    return [
        *oauth.ROUTES,
        *token_info.ROUTES,
        *owners.ROUTES,
        *properties.ROUTES,
        *associations.ROUTES,
        *search.ROUTES,
        *batch.ROUTES,
        *objects.ROUTES,
    ]
