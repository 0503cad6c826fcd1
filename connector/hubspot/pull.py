"""Incremental pull through the CRM search API, restarting its window before HubSpot's 10,000-result cap.

A window `[start, end)` is read with `stamp GTE start AND stamp LT end`, sorted ascending by the stamp, 200 a
page, `after` paging. HubSpot refuses to page one query past 10,000 results, so before reaching the cap the
query restarts from the last stamp seen (re-reading that stamp's records, de-duplicated by id). When a whole
query's worth of records shares one stamp, a stamp restart would read the same records forever: the window
then walks that one stamp by id (`stamp EQ s AND hs_object_id GT last_id`, sorted by id) before going on
past it (`stamp GT s`).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from connector.errors import ConnectorConfigError
from connector.hubspot.client import API_ERRORS, HubSpotApis, Json, api_error, next_after, raw_json
from connector.hubspot.wire import CRM, parse_stamp, to_ms
from connector.protocol import RawRecord

SEARCHABLE = ("contacts", "companies", "deals", "tasks", "notes")
Filter = dict[str, Any]  # one search filter, as the JSON of the generated client's `Filter` model


def stamp_property(obj: str) -> str:
    """The modified stamp incremental pulls filter and sort on (contacts keep the legacy name)."""
    return "lastmodifieddate" if obj == "contacts" else "hs_lastmodifieddate"


@lru_cache(maxsize=10_000)
def _reading(text: str) -> tuple[datetime, int] | None:
    """A stamp text's reading and epoch ms (None: not a stamp). Records of one pull share stamps (a bulk
    import, a workflow's run), and parsing each again was most of leadq's own time in a search page."""
    stamp = parse_stamp(text)
    return None if stamp is None else (stamp, to_ms(stamp))


def search_filter(prop: str, operator: str, value: Any = None, values: Sequence[str] | None = None) -> Filter:
    """One search filter, values as strings (HubSpot compares datetimes given as epoch milliseconds).

    Built as the JSON the generated `Filter` model serialises to (its keys in its order, None left out):
    the models and the client's walk over them cost more than the rest of a search request.
    """
    found: Filter = {"propertyName": prop}
    if values is not None:
        found["values"] = list(values)
    if value is not None:
        found["value"] = str(value)
    found["operator"] = operator
    return found


def search_body(
    filters: Sequence[Filter], sort: str, properties: Sequence[str], limit: int, after: str | None
) -> Json:
    """A search request body: the JSON of the generated `PublicObjectSearchRequest`, one filter group."""
    body = Json(limit=limit)
    if after is not None:
        body["after"] = after
    body["sorts"] = [{"propertyName": sort, "direction": "ASCENDING"}]
    body["properties"] = list(properties)
    body["filterGroups"] = [{"filters": list(filters)}]
    return body


def flatten(result: dict[str, Any]) -> RawRecord:
    """`{"id", "properties": {...}}` as `{"id": ..., **properties}`."""
    return {"id": str(result["id"]), **(result.get("properties") or {})}


@dataclass
class _Query:
    filters: list[Filter]
    sort: str


@dataclass
class _Position:
    """Where the window walk stands: the low stamp (inclusive or not), or one stamp walked by id."""

    low: int
    inclusive: bool = True
    tie_after: int | None = None  # not None: walking the records stamped exactly `low`, by id


class WindowSearch:
    """The records of one object type stamped in `[start_ms, end_ms)`, each once, oldest first."""

    def __init__(
        self,
        apis: HubSpotApis,
        obj: str,
        properties: Sequence[str],
        start_ms: int,
        end_ms: int,
        extra: Sequence[Filter] = (),
    ) -> None:
        if obj not in SEARCHABLE:
            raise ConnectorConfigError(
                f"cannot pull {obj!r} incrementally; HubSpot objects leadq reads: {', '.join(SEARCHABLE)}",
                crm=CRM,
            )
        self.apis = apis
        self.obj = obj
        self.stamp = stamp_property(obj)
        self.properties = list(dict.fromkeys([*properties, self.stamp, "hs_object_id"]))
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.extra = list(extra)
        self.page_size = apis.settings.search_page_size
        self.cap = apis.settings.search_result_cap
        # ids already yielded at the highest stamp seen: the only ones a restart can read again
        self._edge_stamp: int | None = None
        self._edge_ids: set[str] = set()

    def pages(self) -> Iterator[tuple[list[RawRecord], datetime | None]]:
        """Pages of new records with the highest stamp among them."""
        if self.start_ms >= self.end_ms:
            return
        pos: _Position | None = _Position(self.start_ms)
        while pos is not None:
            pos = yield from self._run(pos)

    def _query(self, pos: _Position) -> _Query:
        if pos.tie_after is not None:
            return _Query(
                [
                    search_filter(self.stamp, "EQ", pos.low),
                    search_filter("hs_object_id", "GT", pos.tie_after),
                    *self.extra,
                ],
                "hs_object_id",
            )
        return _Query(
            [
                search_filter(self.stamp, "GTE" if pos.inclusive else "GT", pos.low),
                search_filter(self.stamp, "LT", self.end_ms),
                *self.extra,
            ],
            self.stamp,
        )

    def _run(
        self, pos: _Position
    ) -> Generator[tuple[list[RawRecord], datetime | None], None, _Position | None]:
        """Page one query; return where the next query starts (None: the window is done)."""
        query = self._query(pos)
        after: str | None = None
        read = 0
        first_ms: int | None = None
        last_ms: int | None = None
        last_id = pos.tie_after
        while True:
            answer = self._search(query, after)
            page: list[RawRecord] = []
            high: datetime | None = None
            results = answer.get("results") or []
            for result in results:
                record = flatten(result)
                stamp, ms = self._stamp_of(record, result)
                first_ms = ms if first_ms is None else first_ms
                last_ms = ms
                if pos.tie_after is not None:
                    last_id = max(last_id or 0, int(record["id"]))
                if self._seen(record["id"], ms):
                    continue
                page.append(record)
                high = stamp if high is None or (stamp is not None and stamp > high) else high
            read += len(results)
            if page:
                yield page, high
            nxt = next_after(answer)
            if not nxt:
                if pos.tie_after is not None:
                    return _Position(pos.low, inclusive=False)  # that stamp is done; go on past it
                return None
            offset = int(nxt) if str(nxt).isdigit() else read
            if offset + self.page_size <= self.cap:
                after = str(nxt)
                continue
            # the next page would cross the cap: restart from where this query got to
            if pos.tie_after is not None:
                return _Position(pos.low, tie_after=last_id)
            assert first_ms is not None and last_ms is not None
            if first_ms == last_ms or len(self._edge_ids) + self.page_size > self.cap:
                # a restart from that stamp could not get past the records already read at it: walk the
                # stamp by id instead (HubSpot's order within one stamp is unknown, so from the first id;
                # ids already yielded are skipped)
                return _Position(last_ms, tie_after=0)
            return _Position(last_ms)

    def _stamp_of(self, record: RawRecord, result: dict[str, Any]) -> tuple[datetime | None, int]:
        """The record's modified stamp (else its `updatedAt`) and its epoch ms (0 without either)."""
        text = record.get(self.stamp)
        if type(text) is str and (known := _reading(text)) is not None:
            return known
        stamp = parse_stamp(text) or parse_stamp(result.get("updatedAt"))
        return stamp, to_ms(stamp) if stamp is not None else 0

    def _seen(self, record_id: str, ms: int) -> bool:
        if ms != self._edge_stamp:
            if self._edge_stamp is not None and ms < self._edge_stamp:
                return False  # not reachable with an ascending sort; never drop a record on a guess
            self._edge_stamp = ms
            self._edge_ids = set()
        if record_id in self._edge_ids:
            return True
        self._edge_ids.add(record_id)
        return False

    def _search(self, query: _Query, after: str | None) -> dict[str, Any]:
        request = search_body(query.filters, query.sort, self.properties, self.page_size, after)
        try:
            answer: dict[str, Any] = raw_json(
                self.apis.objects_search.do_search, self.obj, public_object_search_request=request
            )
            return answer
        except API_ERRORS as exc:
            info = api_error(exc)
            raise ConnectorConfigError(
                f"HubSpot refused the search of {self.obj} (HTTP {info.status}): {info.message}",
                crm=CRM,
                status=info.status,
                code=info.codes[0] if info.codes else None,
            ) from None
