"""The Salesforce connector: SOQL pulls, sObject Collections and Bulk API 2.0 writes, Tasks, Tooling fields.

Public surface: `SalesforceConnector`, `SalesforceSettings`, `Secret`, `AuthMethod`, `CycleReport`,
`QuotaUsage`.
"""

from __future__ import annotations

from connector.salesforce.connector import CycleReport, SalesforceConnector
from connector.salesforce.quota import QuotaUsage
from connector.salesforce.settings import AuthMethod, SalesforceSettings, Secret

__all__ = ["AuthMethod", "CycleReport", "QuotaUsage", "SalesforceConnector", "SalesforceSettings", "Secret"]
