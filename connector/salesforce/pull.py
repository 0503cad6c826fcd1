"""Incremental reads by `SystemModstamp`: REST query pages, or a Bulk API 2.0 query job for big windows.

The window is `[cursor - lookback, run_started)` (see `connector.cursor`). SOQL datetime literals carry
whole seconds (simple-salesforce's `format_soql` drops the fraction), so the start is rounded down (more
overlap, removed by de-duplication) and the end is rounded down too: a record stamped in the run's first
second is left for the next run, which the lookback covers.

REST or Bulk: the first REST page is always asked for, and its `totalSize` decides. At or below
`bulk_threshold` that page is simply the first of the pull, so choosing costs no call at all. Above it the
page is dropped (one call, the same price as a `SELECT COUNT()`), and a Bulk API 2.0 query job reads the
window: create, poll, one results call per 50,000 rows. Bulk results come unordered (an `ORDER BY` would
disable PK chunking), so they are sorted by `(SystemModstamp, Id)` here and handed out in pages, oldest
first, so that every page's `high_water` is a safe cursor position.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from simple_salesforce.api import Salesforce
from simple_salesforce.format import format_soql

from connector.cursor import window
from connector.errors import ConnectorError
from connector.protocol import ChangePage, Deletion, RawRecord
from connector.salesforce.client import SalesforceClient
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
        self, client: SalesforceClient, describes: DescribeCache, settings: SalesforceSettings
    ) -> None:
        self.client = client
        self.describes = describes
        self.settings = settings

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
        """Pages of `obj` records stamped in the window, oldest first, de-duplicated by Id.

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
        if int(first.get("totalSize") or 0) > self.settings.bulk_threshold:
            rows = self._bulk_rows(described, select, format_soql(template, **values))
            pages: Iterable[list[RawRecord]] = _chunks(rows, self.settings.query_page_size)
        else:
            flat = flattener(select)
            pages = ([flat(r) for r in page] for page in self._rest_pages(described.name, first))
        seen: set[str] = set()
        for page in pages:
            if not page:
                continue
            fresh = [r for r in page if str(r["Id"]) not in seen]
            seen.update(str(r["Id"]) for r in fresh)
            kept = [r for r in fresh if keep is None or keep(r)]
            stamps = [s for s in (parse_stamp(r.get(STAMP)) for r in page) if s is not None]
            yield ChangePage(described.name, kept, max(stamps, default=None))

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
    def _bulk_rows(self, described: Described, select: list[str], soql: str) -> list[RawRecord]:
        converters = {path: csv_converter(self._type_of(described, path)) for path in select}
        canonical = {path.lower(): path for path in select}
        poll = self.settings.bulk_poll_seconds

        def run(sf: Salesforce) -> list[RawRecord]:
            rows: list[RawRecord] = []
            job = getattr(sf.bulk2, described.name)
            for chunk in job.query(soql, max_records=BULK_RESULTS_PAGE, wait=poll):
                rows.extend(_parse_chunk(str(chunk), select, canonical, converters))
            return rows

        rows = self.client.call(f"Bulk API 2.0 query of {described.name}", run)
        rows.sort(key=lambda r: (str(r.get(STAMP) or ""), str(r.get("Id") or "")))
        return rows

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

    The header is resolved once per page to (column, field, converter); text columns need no converter
    and empty cells are null whatever the type. Short rows, blank lines and repeated columns read as with
    `csv.DictReader`.
    """
    reader = csv.reader(io.StringIO(chunk, newline=""))
    header = next(reader, None)
    if header is None:
        return
    # As csv.DictReader: one entry per distinct header name, in first-seen order, read from its last column.
    last = {name: i for i, name in enumerate(header)}
    columns = [(i, key, converters[key]) for name, i in last.items() if (key := canonical.get(name.lower()))]
    width = len(header)
    blank = dict.fromkeys(select)
    for cells in reader:
        if not cells:
            continue  # csv.DictReader skips blank lines
        if len(cells) < width:
            cells += [""] * (width - len(cells))
        record = blank.copy()
        for index, key, convert in columns:
            cell = cells[index]
            record[key] = None if not cell else cell if convert is None else convert(cell)
        yield record


def _chunks(rows: list[RawRecord], size: int) -> Iterator[list[RawRecord]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
