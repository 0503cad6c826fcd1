"""Field writes: `POST /crm/v3/objects/{type}/batch/update`, 100 records a call, one outcome per update."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from connector.hubspot.batches import Batcher, input_error
from connector.hubspot.client import HubSpotApis, Json, raw_json
from connector.hubspot.wire import wire_value
from connector.protocol import RecordUpdate, WriteOutcome, WriteStatus


def chunk_unique(ids: Sequence[str], size: int) -> list[list[int]]:
    """Indices in input order, cut into chunks of at most `size` with no id twice in a chunk.

    HubSpot refuses a batch naming one id twice; a later update of the same record goes to a later call,
    so the last one in input order wins, as it would one by one.
    """
    chunks: list[list[int]] = []
    current: list[int] = []
    seen: set[str] = set()
    for i, record_id in enumerate(ids):
        if len(current) >= size or record_id in seen:
            chunks.append(current)
            current, seen = [], set()
        current.append(i)
        seen.add(record_id)
    if current:
        chunks.append(current)
    return chunks


def apply_updates(apis: HubSpotApis, obj: str, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
    """Write each update's values (strings on the wire; None or "" clears); outcomes in input order."""
    keys = [str(u.id) for u in updates]
    wire = [{name: wire_value(value) for name, value in u.values.items()} for u in updates]
    outcomes: dict[int, WriteOutcome] = {}
    for i, values in enumerate(wire):
        if not values:  # nothing to send; HubSpot would only bump the modified stamp
            outcomes[i] = WriteOutcome(key=keys[i], status=WriteStatus.WRITTEN, crm_id=keys[i])
    pending = [i for i, values in enumerate(wire) if values]

    def send(indices: list[int]) -> Any:
        # The body as the JSON it serialises to (`BatchInputSimplePublicObjectBatchInput`): the generated client
        # sends dicts as they are, and a model per record cost more than the rest of the call; as `Json`, the
        # client does not walk it either.
        body = Json(inputs=[{"id": keys[i], "properties": wire[i]} for i in indices])
        return raw_json(apis.objects_batch.update, obj, batch_input_simple_public_object_batch_input=body)

    def judge(indices: list[int], answer: Any) -> dict[int, WriteOutcome]:
        written = {str(r["id"]) for r in answer.get("results") or []}
        refused: dict[str, tuple[Any, str | None]] = {}
        for err in answer.get("errors") or []:
            info = input_error(err)
            _, code = info.lookup()
            for value in info.context.values():
                for record_id in value if isinstance(value, list) else [value]:
                    refused[str(record_id)] = (info, code)
        out: dict[int, WriteOutcome] = {}
        for i in indices:
            fields = tuple(wire[i])
            if keys[i] in refused:
                info, code = refused[keys[i]]
                out[i] = WriteOutcome(
                    key=keys[i],
                    status=WriteStatus.REJECTED,
                    crm_id=keys[i],
                    code=code,
                    message=info.message,
                    fields=info.fields or fields,
                )
            elif keys[i] in written or not answer.get("errors"):
                out[i] = WriteOutcome(key=keys[i], status=WriteStatus.WRITTEN, crm_id=keys[i], fields=fields)
            else:
                out[i] = WriteOutcome(
                    key=keys[i],
                    status=WriteStatus.RETRYABLE,
                    crm_id=keys[i],
                    code="UNREPORTED",
                    message="HubSpot answered 207 without a result or an error for this record",
                    fields=fields,
                )
        return out

    batcher = Batcher(keys, send, judge, apis.settings.batch_size)
    chunks = chunk_unique([keys[i] for i in pending], apis.settings.batch_size)
    outcomes.update(batcher.run([[pending[j] for j in chunk] for chunk in chunks]))
    return [o if o.crm_id else replace(o, crm_id=o.key) for o in (outcomes[i] for i in range(len(updates)))]
