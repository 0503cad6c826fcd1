"""API versions (`/services/data`), the per-version resource list, and `/limits`."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from sandbox.app import sandbox_state
from sandbox.errors import JSONResponse
from sandbox.salesforce.common import VERSIONS, identity_url, routes, version_of

# Resource names a real org lists at `/services/data/vXX.X/`; the sandbox serves the ones leadq uses.
_RESOURCES = (
    "tooling", "metadata", "eclair", "folders", "prechatForms", "chatter", "tabs", "appMenu", "quickActions",
    "queryAll", "commerce", "wave", "iot", "analytics", "search", "identity", "composite", "parameterizedSearch",
    "fingerprint", "theme", "nouns", "event", "serviceTemplates", "recent", "connect", "licensing", "limits",
    "process", "dedupe", "async-queries", "query", "match", "emailConnect", "compactLayouts",
    "knowledgeManagement", "sobjects", "actions", "support",
)  # fmt: skip

# Limits a Developer Edition org reports besides the API quota, at their documented allocations.
_STATIC_LIMITS: dict[str, int] = {
    "AnalyticsExternalDataSizeMB": 40960,
    "ConcurrentAsyncGetReportInstances": 200,
    "ConcurrentSyncReportRuns": 20,
    "DailyAnalyticsDataflowJobExecutions": 60,
    "DailyAsyncApexExecutions": 250000,
    "DailyAsyncApexTests": 500,
    "DailyBulkApiBatches": 15000,
    "DailyBulkV2QueryFileStorageMB": 976562,
    "DailyBulkV2QueryJobs": 10000,
    "DailyDeliveredPlatformEvents": 10000,
    "DailyDurableGenericStreamingApiEvents": 10000,
    "DailyDurableStreamingApiEvents": 10000,
    "DailyGenericStreamingApiEvents": 10000,
    "DailyStandardVolumePlatformEvents": 10000,
    "DailyStreamingApiEvents": 10000,
    "DailyWorkflowEmails": 8040,
    "DataStorageMB": 5,
    "DurableStreamingApiConcurrentClients": 20,
    "FileStorageMB": 20,
    "HourlyAsyncReportRuns": 1200,
    "HourlyDashboardRefreshes": 200,
    "HourlyDashboardResults": 5000,
    "HourlyDashboardStatuses": 999999999,
    "HourlyODataCallout": 10000,
    "HourlyPublishedPlatformEvents": 50000,
    "HourlyPublishedStandardVolumePlatformEvents": 1000,
    "HourlySyncReportRuns": 500,
    "HourlyTimeBasedWorkflow": 50,
    "MassEmail": 10,
    "PermissionSets": 1500,
    "SingleEmail": 15,
    "StreamingApiConcurrentClients": 20,
}


async def list_versions(request: Request) -> Response:
    """`GET /services/data`: every API version the org serves (no authentication needed)."""
    return JSONResponse(list(VERSIONS))


async def resources(request: Request) -> Response:
    """`GET /services/data/vXX.X/`: the resources of one version, by name."""
    version = version_of(request)
    out = {name: f"/services/data/v{version}/{name}" for name in _RESOURCES}
    out["identity"] = identity_url(sandbox_state(request).base_url)
    return JSONResponse(out)


async def limits(request: Request) -> Response:
    """`GET .../limits`: the org's limits, with the daily API quota as the middleware counts it."""
    version_of(request)
    quota = sandbox_state(request).sf_quota
    out: dict[str, dict[str, Any]] = {name: {"Max": n, "Remaining": n} for name, n in _STATIC_LIMITS.items()}
    out["DailyApiRequests"] = {"Max": quota.limit, "Remaining": max(0, quota.limit - quota.used)}
    out["PermissionSets"] = {**out["PermissionSets"], "CreateCustom": {"Max": 1000, "Remaining": 1000}}
    return JSONResponse(dict(sorted(out.items())))


ROUTES: list[BaseRoute] = [
    *routes("/services/data", list_versions, ["GET"]),
    *routes("/services/data/v{version}", resources, ["GET"]),
    *routes("/services/data/v{version}/limits", limits, ["GET"]),
]
