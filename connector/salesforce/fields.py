"""Custom fields through the Tooling API: `POST tooling/sobjects/CustomField`.

A field that describe already shows is reported WRITTEN without a call; `DUPLICATE_DEVELOPER_NAME` (the
field exists but the integration user cannot see it, or another run made it meanwhile) counts as existing
too. Fields for Task or Event are created on Activity (`Activity.leadq_Key__c`), as Salesforce requires;
a server that knows no Activity entity is asked for `Task.<field>` instead. A new field is visible to the
integration user only once field-level security grants it (a permission set): `leadq setup` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simple_salesforce.api import Salesforce

from connector.errors import (
    ConnectorConfigError,
    QuotaExhaustedError,
    RateLimitedError,
    RecordRejectedError,
    RetryableError,
)
from connector.protocol import FieldSpec, WriteOutcome, WriteStatus
from connector.salesforce.client import SalesforceClient
from connector.salesforce.describe import IDENTIFIER, DescribeCache
from connector.salesforce.failures import CRM, error_entry
from connector.salesforce.outcomes import failed, for_error, written

LONG_TEXT_DEFAULT = 32_768  # a FieldSpec's default length (255) is too short for an explanation
LONG_TEXT_MIN, LONG_TEXT_MAX = 256, 131_072
VISIBLE_LINES = 5
EXISTS = "DUPLICATE_DEVELOPER_NAME"
# Custom fields of tasks and events are defined once, on Activity, and show on both.
ACTIVITY_OBJECTS = frozenset({"Task", "Event"})


def api_name(spec: FieldSpec) -> str:
    """`leadq_Score__c` for a spec named `leadq_Score` or `leadq_Score__c`."""
    name = spec.name if spec.name.endswith("__c") else f"{spec.name}__c"
    if not IDENTIFIER.fullmatch(name) or "__" in name[:-3]:
        raise ConnectorConfigError(f"{spec.object}.{spec.name} is not a valid custom field name", crm=CRM)
    return name


def metadata(spec: FieldSpec) -> dict[str, Any]:
    """The CustomField `Metadata` for a spec's type."""
    meta: dict[str, Any] = {"label": spec.label[:40]}
    if spec.description:
        meta["description"] = spec.description[:1000]
    kind = spec.type
    if kind == "number":
        meta.update(type="Number", precision=spec.precision, scale=spec.scale)
    elif kind == "text":
        meta.update(type="Text", length=min(max(spec.length, 1), 255))
    elif kind == "longtext":
        length = LONG_TEXT_DEFAULT if spec.length <= 255 else spec.length
        meta.update(
            type="LongTextArea",
            length=max(LONG_TEXT_MIN, min(length, LONG_TEXT_MAX)),
            visibleLines=VISIBLE_LINES,
        )
    elif kind == "picklist":
        values = [{"fullName": o, "default": False, "label": o} for o in spec.options]
        meta.update(
            type="Picklist",
            valueSet={"restricted": True, "valueSetDefinition": {"sorted": False, "value": values}},
        )
    elif kind == "datetime":
        meta.update(type="DateTime")
    elif kind == "date":
        meta.update(type="Date")
    elif kind == "checkbox":
        meta.update(type="Checkbox", defaultValue="false")
    else:
        raise ConnectorConfigError(
            f"{spec.object}.{spec.name}: unknown field type {kind!r}; use number, text, longtext, picklist, "
            "datetime, date or checkbox",
            crm=CRM,
        )
    if spec.external_id:
        if kind != "text":
            raise ConnectorConfigError(
                f"{spec.object}.{spec.name}: only a text field can be an External ID here (it is {kind})",
                crm=CRM,
            )
        meta["externalId"] = True  # indexed: a filter on the key stays selective among millions of Tasks
    return meta


class FieldCreator:
    """Creates leadq's custom fields, idempotently."""

    def __init__(self, client: SalesforceClient, describes: DescribeCache) -> None:
        self.client = client
        self.describes = describes

    def create_fields(self, specs: Sequence[FieldSpec]) -> list[WriteOutcome]:
        """One outcome per spec, keyed `Object.Field__c`; existing fields are WRITTEN, `created=False`."""
        out: list[WriteOutcome] = []
        quota: QuotaExhaustedError | None = None
        touched: set[str] = set()
        for spec in specs:
            name = api_name(spec)
            described = self.describes.get(spec.object)
            full = f"{described.name}.{name}"
            existing = described.field(name)
            if existing is not None:
                out.append(written(f"{described.name}.{existing.name}", None))
                continue
            if quota is not None:
                out.append(for_error(full, None, quota))
                continue
            touched.update(ACTIVITY_OBJECTS if described.name in ACTIVITY_OBJECTS else {described.name})
            try:
                out.append(self._create(full, described.name, name, spec))
            except QuotaExhaustedError as exc:
                quota = exc
                out.append(for_error(full, None, exc))
            except (RetryableError, RateLimitedError, RecordRejectedError) as exc:
                out.append(self._existing_or(full, exc))
        for obj in touched:  # describe again next time: the new fields are there now
            self.describes.clear(obj)
        return out

    def _create(self, key: str, obj: str, name: str, spec: FieldSpec) -> WriteOutcome:
        targets = [f"Activity.{name}", f"{obj}.{name}"] if obj in ACTIVITY_OBJECTS else [f"{obj}.{name}"]
        for n, full in enumerate(targets):
            body = {"FullName": full, "Metadata": metadata(spec)}

            def run(sf: Salesforce, body: dict[str, Any] = body) -> Any:
                return sf.toolingexecute("sobjects/CustomField", method="POST", data=body)

            try:
                result = self.client.call(f"create the custom field {full} (Tooling API)", run)
            except RecordRejectedError as exc:
                if (
                    n + 1 < len(targets)
                    and exc.code == "FIELD_INTEGRITY_EXCEPTION"
                    and "Activity" in str(exc)
                ):
                    continue  # a server without the Activity entity (the leadq sandbox): name the object itself
                raise
            return self._outcome(key, result)
        raise AssertionError("unreachable: the last target returns or raises")

    @staticmethod
    def _outcome(full: str, result: Any) -> WriteOutcome:
        if isinstance(result, dict) and result.get("success", True) and result.get("id"):
            return written(full, str(result["id"]), created=True)
        code, message, fields = error_entry(result if not isinstance(result, dict) else result.get("errors"))
        return failed(full, None, code, message or "the Tooling API did not create the field", fields)

    @staticmethod
    def _existing_or(full: str, exc: Exception) -> WriteOutcome:
        code = getattr(exc, "code", None)
        if code == EXISTS:
            return WriteOutcome(full, WriteStatus.WRITTEN, code=EXISTS, message="the field already exists")
        assert isinstance(exc, RetryableError | RateLimitedError | RecordRejectedError)
        return for_error(full, None, exc)
