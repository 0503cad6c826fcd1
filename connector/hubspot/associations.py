"""Association reads: `POST /crm/v4/associations/{from}/{to}/batch/read`, up to 1,000 ids a call, paging per id."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from connector.errors import ConnectorConfigError
from connector.hubspot.client import API_ERRORS, HubSpotApis, Json, api_error, next_after, raw_json
from connector.hubspot.wire import CRM
from connector.protocol import RawRecord

High = TypeVar("High")
Reader = Callable[[Sequence[str], str], dict[str, list[str]]]


def _batch_body(chunk: Sequence[tuple[str, str | None]]) -> Json:
    # The JSON `BatchInputPublicFetchAssociationsBatchRequest` serialises to (`after` only when paging, as
    # the model leaves out None): a model per id, then the client's walk over it, was most of leadq's CPU
    # in an association read.
    return Json(inputs=[{"id": i} if after is None else {"id": i, "after": after} for i, after in chunk])


def read_associations(
    apis: HubSpotApis, from_type: str, ids: Sequence[str], to_type: str
) -> dict[str, list[str]]:
    """For each id, the ids of the `to_type` records associated with it ([] when none), in HubSpot's order."""
    out: dict[str, list[str]] = {str(i): [] for i in ids}
    pending: list[tuple[str, str | None]] = [(i, None) for i in out]
    size = apis.settings.association_batch_size
    while pending:
        chunk, pending = pending[:size], pending[size:]
        body = _batch_body(chunk)
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


def _block(found: dict[str, dict[str, list[str]]], record_id: str) -> dict[str, Any]:
    return {
        to_type: {"results": [{"id": i} for i in links.get(record_id, ())]}
        for to_type, links in found.items()
    }


def pages_with_associations(
    pages: Iterable[tuple[list[RawRecord], High]], to_types: Sequence[str], read_links: Reader, size: int
) -> Iterator[tuple[list[RawRecord], High]]:
    """The same pages, in order, each record given `{"associations": {to_type: {"results": [{"id": ...}]}}}`
    (the shape HubSpot's object reads give with `associations=`) in place, to-types in the order given.

    `read_links(ids, to_type)` is `read_associations` for the pages' object (ids without links may be left
    out of its answer). A search page holds 200 records while an association read takes 1,000 ids: the ids
    of consecutive pages are read together, `size` at a time per to-type, so a full pull makes a fifth of
    the association calls it would page by page. A page is handed on once all of its ids have been read,
    so up to `size` records' worth of pages is held back. Without to-types the pages pass through untouched.
    """
    if not to_types:
        yield from pages
        return
    found: dict[str, dict[str, list[str]]] = {to_type: {} for to_type in to_types}
    held: deque[tuple[list[RawRecord], High]] = deque()
    unread: list[str] = []  # ids of the held pages not read yet, in page order (the last ones held)
    ready = 0  # records at the front of `held` whose ids have been read
    holding: Counter[str] = Counter()  # ids of the held pages (an id could come twice)

    def read(ids: list[str]) -> None:
        for to_type in to_types:
            found[to_type].update(read_links(ids, to_type))

    def release() -> Iterator[tuple[list[RawRecord], High]]:
        nonlocal ready
        while held and len(held[0][0]) <= ready:
            records, high = held.popleft()
            ready -= len(records)
            for record in records:  # fresh dicts of this pull's own: given their block in place
                record_id = str(record["id"])
                record["associations"] = _block(found, record_id)
                holding[record_id] -= 1
                if not holding[record_id]:  # forgotten once no held page has the id (memory stays bounded)
                    del holding[record_id]
                    for links in found.values():
                        links.pop(record_id, None)
            yield records, high

    for records, high in pages:
        held.append((records, high))
        ids = [str(r["id"]) for r in records]
        unread.extend(ids)
        holding.update(ids)
        while len(unread) >= size:
            read(unread[:size])
            del unread[:size]
            ready += size
        yield from release()
    if unread:
        read(unread)
        ready += len(unread)
        unread.clear()
    yield from release()
