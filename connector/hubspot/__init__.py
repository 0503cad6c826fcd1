"""HubSpot behind the `CRMConnector` protocol, through `hubspot-api-client`.

Public surface: `HubSpotConnector` and `HubSpotSettings`.
"""

from __future__ import annotations

from connector.hubspot.connector import HubSpotConnector
from connector.hubspot.settings import HubSpotSettings

__all__ = ["HubSpotConnector", "HubSpotSettings"]
