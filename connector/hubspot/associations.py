"""Association reads: `POST /crm/v4/associations/{from}/{to}/batch/read`, up to 1,000 ids a call, paging per id."""

from __future__ import annotations

from collections.abc import Sequence

from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    Configuration,
    PublicFetchAssociationsBatchRequest,
)

from connector.errors import ConnectorConfigError
from connector.hubspot.client import API_ERRORS, HubSpotApis, api_error, next_after, raw_json
from connector.hubspot.wire import CRM
from connector.protocol import RawRecord

# Request models deep-copy the client's default configuration each unless given one: a copy per id was a
# tenth of a 10k-contact cycle. They only read its validation flag, so one shared instance serves them all.
_MODELS = Configuration()


def read_associations(
    apis: HubSpotApis, from_type: str, ids: Sequence[str], to_type: str
) -> dict[str, list[str]]:
    """For each id, the ids of the `to_type` records associated with it ([] when none), in HubSpot's order."""
    out: dict[str, list[str]] = {str(i): [] for i in ids}
    pending: list[tuple[str, str | None]] = [(i, None) for i in out]
    size = apis.settings.association_batch_size
    while pending:
        chunk, pending = pending[:size], pending[size:]
        body = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[
                PublicFetchAssociationsBatchRequest(id=i, after=after, local_vars_configuration=_MODELS)
                for i, after in chunk
            ],
            local_vars_configuration=_MODELS,
        )
        try:
            answer = raw_json(
                apis.associations_batch.get_page,
                from_type,
                to_type,
                batch_input_public_fetch_associations_batch_request=body,
            )
        except API_ERRORS as exc:
            info = api_error(exc)
            raise ConnectorConfigError(
                f"HubSpot refused to read {from_type} to {to_type} associations (HTTP {info.status}): "
                f"{info.message}",
                crm=CRM,
                status=info.status,
                code=info.codes[0] if info.codes else None,
            ) from None
        # ids without associations come back as NO_ASSOCIATIONS_FOUND errors of a 207: they keep []
        for result in answer.get("results") or []:
            from_id = str(result["from"]["id"])
            targets = out.setdefault(from_id, [])
            for target in result.get("to") or []:
                to_id = str(target["toObjectId"])
                if to_id not in targets:
                    targets.append(to_id)
            after = next_after(result)  # more than one page of associations for this id
            if after:
                pending.append((from_id, after))
    return out


def with_associations(
    apis: HubSpotApis, obj: str, records: list[RawRecord], to_types: Sequence[str]
) -> list[RawRecord]:
    """`records` of `obj`, each with `{"associations": {to_type: {"results": [{"id": ...}, ...]}}}`.

    That is the shape HubSpot's object reads give with `associations=`; one `read_associations` per
    to-type, in the order given (the order the sync layer reads them in when it does so itself).
    """
    if not records or not to_types:
        return records
    ids = [str(r["id"]) for r in records]
    found = {to_type: read_associations(apis, obj, ids, to_type) for to_type in to_types}
    return [
        {
            **record,
            "associations": {
                to_type: {"results": [{"id": i} for i in links.get(str(record["id"]), [])]}
                for to_type, links in found.items()
            },
        }
        for record in records
    ]
