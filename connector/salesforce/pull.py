"""Incremental reads by `SystemModstamp`: REST query pages, or a Bulk API 2.0 query job for big windows.

The window is `[cursor - lookback, run_started)` (see `connector.cursor`). SOQL datetime literals carry
whole seconds (simple-salesforce's `format_soql` drops the fraction), so the start is rounded down (more
overlap, removed by de-duplication) and the end is rounded down too: a record stamped in the run's first
second is left for the next run, which the lookback covers.

REST or Bulk: the first REST page is always asked for, and its `totalSize` decides. At or below
`bulk_threshold` that page is simply the first of the pull, so choosing costs no call at all. Above it the
page is dropped (one call, the same price as a `SELECT COUNT()`), and a Bulk API 2.0 query job reads the
window: create and poll (one retried operation), then one results call per `BULK_RESULTS_PAGE` rows, each
retried on its own.

Read-ahead: the next REST page, or the next Bulk results chunk, is requested on a worker thread
(`connector.readahead`) while the caller uses the current one, so the CRM answers while leadq parses and
translates. A pull's requests and their order are unchanged, one in flight at a time. Other calls on the
same client may run meanwhile (sync starts the next object's pull while it works on this one): sign-in,
the quota share and the call log are thread-safe.

Ordering and `high_water`: REST pages come oldest first (`ORDER BY SystemModstamp, Id`), so every REST
page's `high_water` is a safe cursor position. Bulk results come unordered (an `ORDER BY` would disable PK
chunking), and holding a whole object's results to sort them costs memory in proportion to the object
(Tasks: millions of rows), so each results chunk is parsed and handed on as it arrives, in pages of at
most `query_page_size` records: every Bulk page but the last carries `high_water=None`, and the last one
carries the highest stamp seen over all rows. A caller may therefore only move its cursor to the highest
`high_water` once the pull is exhausted (which `sync.pull` does); a pull that fails part-way yields no
mark at all, and the next run reads the window again. Records repeated across pages are yielded once."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.bulk2 import Operation
from simple_salesforce.format import format_soql

from connector.cursor import window
from connector.errors import ConnectorError
from connector.protocol import ChangePage, Deletion, RawRecord
from connector.readahead import read_ahead
from connector.salesforce.client import SalesforceClient, bulk_jobs
from connector.salesforce.describe import DescribeCache, Described, check_object_name
from connector.salesforce.settings import SalesforceSettings
from connector.salesforce.values import csv_converter, flattener, parse_stamp

STAMP = "SystemModstamp"
BULK_RESULTS_PAGE = 50_000
_WINDOW = "SystemModstamp >= {start} AND SystemModstamp < {end}"
_ORDER = " ORDER BY SystemModstamp, Id"


class Puller:
    """Reads changed, deleted and completed records for one connector."""

    def __init__(
        self,
        client: SalesforceClient,
        describes: DescribeCache,
        settings: SalesforceSettings,
        *,
        results_page: int = BULK_RESULTS_PAGE,
    ) -> None:
        self.client = client
        self.describes = describes
        self.settings = settings
        self.results_page = results_page  # rows per Bulk API 2.0 results call (`maxRecords`)

    def _query_headers(self) -> dict[str, str]:
        return {"Sforce-Query-Options": f"batchSize={self.settings.query_page_size}"}

    def changes(
        self,
        obj: str,
        fields: Sequence[str],
        cursor: dict[str, Any] | None,
        *,
        run_started: datetime,
        conditions: Sequence[str] = (),
        params: Mapping[str, Any] | None = None,
        keep: Callable[[RawRecord], bool] | None = None,
    ) -> Iterator[ChangePage]:
        """Pages of `obj` records stamped in the window, de-duplicated by Id.

        REST pages come oldest first, each with its own `high_water`; Bulk pages come unordered and only
        the last carries a `high_water` (the highest stamp of the whole pull): see the module docstring.
        `conditions` are extra SOQL conditions written with `format_soql` placeholders (code constants,
        never config), their values in `params`. `keep` filters records out after paging.
        """
        described = self.describes.get(obj)
        select = self.describes.select_list(described, fields)
        w = window(
            cursor, run_started=run_started, lookback=timedelta(seconds=self.settings.lookback_seconds)
        )
        where = " AND ".join([*conditions, _WINDOW])
        template = "SELECT {select:literal} FROM {obj:literal} WHERE " + where
        values = {
            **(params or {}),
            "select": ", ".join(select),
            "obj": described.name,
            "start": w.start,
            "end": w.end,
        }
        soql = format_soql(template + _ORDER, **values)
        first = self._first_page(described.name, soql, include_deleted=False)
        marked: Iterable[tuple[list[RawRecord], datetime | None]]
        if int(first.get("totalSize") or 0) > self.settings.bulk_threshold:
            del first  # the Bulk job reads the window again; this page is not kept alive beside it
            rows = self._bulk_pages(described, select, format_soql(template, **values))
            marked = _last_marked(rows)
        else:
            flat = flattener(select)
            rest = ([flat(r) for r in page] for page in self._rest_pages(described.name, first))
            marked = ((page, _high_water(page)) for page in rest if page)
        seen: set[str] = set()
        for page, high_water in marked:
            fresh = _unseen(page, seen)
            kept = fresh if keep is None else [r for r in fresh if keep(r)]
            yield ChangePage(described.name, kept, high_water)

    def deletions(
        self, obj: str, cursor: dict[str, Any] | None, *, run_started: datetime
    ) -> Iterator[list[Deletion]]:
        """Records moved to the recycle bin in the window (`queryAll`, `IsDeleted = true`), oldest first."""
        name = check_object_name(obj)
        w = window(
            cursor, run_started=run_started, lookback=timedelta(seconds=self.settings.lookback_seconds)
        )
        soql = format_soql(
            "SELECT Id, SystemModstamp FROM {obj:literal} WHERE IsDeleted = {deleted} AND "
            + _WINDOW
            + _ORDER,
            obj=name,
            deleted=True,
            start=w.start,
            end=w.end,
        )
        seen: set[str] = set()
        first = self._first_page(name, soql, include_deleted=True)
        for page in self._rest_pages(name, first):
            out = [
                Deletion(name, str(r["Id"]), parse_stamp(r.get(STAMP)))
                for r in page
                if str(r["Id"]) not in seen
            ]
            seen.update(d.id for d in out)
            if out:
                yield out

    # ------------------------------------------------------------------ REST
    def _first_page(self, obj: str, soql: str, *, include_deleted: bool) -> dict[str, Any]:
        verb = "queryAll" if include_deleted else "query"
        headers = self._query_headers()

        def run(sf: Salesforce) -> dict[str, Any]:
            return dict(sf.query(soql, include_deleted=include_deleted, headers=headers))

        return self.client.call(f"{verb} {obj}", run)

    def _rest_pages(self, obj: str, first: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The records of `first` and of each page after it, the next page read while this one is used."""
        return read_ahead(self._rest_answers(obj, first), name=f"leadq-query-{obj}")

    def _rest_answers(self, obj: str, first: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        page, number = first, 1
        headers = self._query_headers()
        while True:
            yield list(page.get("records") or [])
            url = page.get("nextRecordsUrl")
            if page.get("done", True) or not url:
                return
            number += 1

            def more(sf: Salesforce, url: str = str(url)) -> dict[str, Any]:
                return dict(sf.query_more(url, identifier_is_url=True, headers=headers))

            page = self.client.call(f"query {obj} page {number}", more)

    # ------------------------------------------------------------------ Bulk API 2.0
    def _bulk_pages(self, described: Described, select: list[str], soql: str) -> Iterator[list[RawRecord]]:
        """The job's rows, unordered, in pages of at most `query_page_size`, fetched and parsed lazily.

        At most two results chunks (their CSV text: the one being parsed, and the next, read meanwhile on a
        worker thread) and one page of parsed records are alive at a time. Job
        creation and polling are one retried operation (a retry starts a fresh job); each results call is
        retried on its own, by its locator, so a transient failure late in a big pull repeats one call.
        """
        converters = {path: csv_converter(self._type_of(described, path)) for path in select}
        canonical = {path.lower(): path for path in select}
        name = described.name
        what = f"Bulk API 2.0 query of {name}"
        poll = self.settings.bulk_poll_seconds
        size = self.settings.query_page_size
        results_page = self.results_page

        def start(sf: Salesforce) -> str:
            jobs = bulk_jobs(sf, name)
            job_id = str(jobs.create_job(Operation.query, soql)["id"])
            jobs.wait_for_job(job_id, True, poll)
            return job_id

        job_id = self.client.call(what, start)

        def chunks() -> Iterator[str]:
            locator, number = "", 0
            while True:
                number += 1

                def fetch(sf: Salesforce, locator: str = locator) -> tuple[str, str]:
                    result = bulk_jobs(sf, name).get_query_results(job_id, locator, results_page)
                    return str(result["records"]), str(result["locator"] or "")

                chunk, locator = self.client.call(f"{what}, results page {number}", fetch)
                yield chunk
                del chunk
                if not locator or locator == "null":
                    return

        # Each results call needs the previous one's locator, so chunk N+1 is fetched while chunk N is
        # parsed and its pages used: two chunks' text alive at most, one request in flight.
        for chunk in read_ahead(chunks(), name=f"leadq-bulk-{name}"):
            rows = _parse_chunk(chunk, select, canonical, converters)
            del chunk  # the reader holds the text until the last page of this chunk is parsed
            yield from _batched(rows, size)

    def _type_of(self, described: Described, path: str) -> str | None:
        """The describe type at the end of a path (`Account.Name` describes Account, once per cycle)."""
        *hops, leaf = path.split(".")
        current = described
        try:
            for hop in hops:
                target = current.target_of(hop)
                if target is None:
                    return None
                current = self.describes.get(target)
        except ConnectorError:
            return None  # typed as text; the query itself already succeeded
        info = current.field(leaf)
        return info.type if info else None


def _parse_chunk(
    chunk: str,
    select: list[str],
    canonical: Mapping[str, str],
    converters: Mapping[str, Callable[[str], Any] | None],
) -> Iterator[RawRecord]:
    """The rows of one Bulk API 2.0 results page, typed as the REST API types them.

    The header is resolved once per page to the text columns (column, field) and the typed ones (column,
    field, converter, memo); empty cells are null whatever the type. Short rows, blank lines and repeated
    columns read as with `csv.DictReader`.

    A typed cell's text is looked up in a memo of what its converter gave lately (one memo per converter,
    emptied when it reaches `_MEMO_SIZE` entries) before the converter is called: a Task's CreatedDate,
    SystemModstamp and CompletedDateTime are mostly one instant, and booleans have two values, while a
    converter call costs several times a lookup. Converters are pure functions of the cell, so the records
    are the same; and they are still called in row order, so the first bad cell raises what it raised.
    """
    reader = csv.reader(io.StringIO(chunk, newline=""))
    header = next(reader, None)
    if header is None:
        return
    # As csv.DictReader: one entry per distinct header name, in first-seen order, read from its last column.
    last = {name: i for i, name in enumerate(header)}
    columns = [(i, key, converters[key]) for name, i in last.items() if (key := canonical.get(name.lower()))]
    # A field's columns are all text or all typed (one converter per field), so filling the text ones first
    # still leaves each field the value of its last column.
    text = [(i, key) for i, key, convert in columns if convert is None]
    memos: dict[Callable[[str], Any], dict[str, Any]] = {}
    typed = [(i, key, convert, memos.setdefault(convert, {})) for i, key, convert in columns if convert]
    width = len(header)
    blank = dict.fromkeys(select)
    for cells in reader:
        if not cells:
            continue  # csv.DictReader skips blank lines
        if len(cells) < width:
            cells += [""] * (width - len(cells))
        record = blank.copy()
        for index, key in text:
            record[key] = cells[index] or None
        for index, key, convert, memo in typed:
            cell = cells[index]
            if not cell:
                record[key] = None
            elif (value := memo.get(cell, _MISSING)) is not _MISSING:
                record[key] = value
            else:
                if len(memo) >= _MEMO_SIZE:
                    memo.clear()  # a small memo stays in the CPU cache; most repeats are within a row
                record[key] = memo[cell] = convert(cell)
        yield record


_MISSING = object()
_MEMO_SIZE = 512


def _unseen(page: list[RawRecord], seen: set[str]) -> list[RawRecord]:
    """The records of `page` whose Id is not in `seen` (nor earlier in the page); `seen` takes them."""
    out: list[RawRecord] = []
    size = len(seen)
    for record in page:
        seen.add(str(record["Id"]))
        if len(seen) > size:
            size += 1
            out.append(record)
    return out


def _high_water(page: list[RawRecord]) -> datetime | None:
    return max((s for s in (parse_stamp(r.get(STAMP)) for r in page) if s is not None), default=None)


def _last_marked(pages: Iterable[list[RawRecord]]) -> Iterator[tuple[list[RawRecord], datetime | None]]:
    """Unordered pages with no mark, except the last, marked with the highest stamp of them all.

    One page is held back until the next arrives, so that the last is known when it is handed out.
    """
    high: datetime | None = None
    held: list[RawRecord] | None = None
    for page in pages:
        if not page:
            continue
        mark = _high_water(page)
        if mark is not None and (high is None or mark > high):
            high = mark
        if held is not None:
            yield held, None
        held = page
    if held is not None:
        yield held, high


def _batched(rows: Iterator[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    page: list[RawRecord] = []
    for row in rows:
        page.append(row)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page
