"""The wire: one connector per CRM behind one `CRMConnector` protocol.

Auth, paging, batching, rate limits, retries and error classification (as data) live here; nothing here
knows about scores.
"""

from __future__ import annotations

from connector.accounting import CallLog
from connector.classify import Action, classify
from connector.cursor import Window, advance, window
from connector.errors import (
    AuthConfigError,
    AuthError,
    ConnectorConfigError,
    ConnectorError,
    QuotaExhaustedError,
    RateLimitedError,
    RecordRejectedError,
    RetryableError,
)
from connector.protocol import (
    ChangePage,
    CRMConnector,
    Deletion,
    FieldInfo,
    FieldSpec,
    NoteSpec,
    ObjectDescription,
    RecordUpdate,
    TaskSpec,
    WriteOutcome,
    WriteStatus,
)

__all__ = [
    "Action",
    "AuthConfigError",
    "AuthError",
    "CRMConnector",
    "CallLog",
    "ChangePage",
    "ConnectorConfigError",
    "ConnectorError",
    "Deletion",
    "FieldInfo",
    "FieldSpec",
    "NoteSpec",
    "ObjectDescription",
    "QuotaExhaustedError",
    "RateLimitedError",
    "RecordRejectedError",
    "RecordUpdate",
    "RetryableError",
    "TaskSpec",
    "Window",
    "WriteOutcome",
    "WriteStatus",
    "advance",
    "classify",
    "window",
]
