"""`HubSpotConnector`: the `CRMConnector` protocol over HubSpot's CRM v3/v4 APIs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from connector.accounting import CallLog
from connector.cursor import Window, window
from connector.errors import ConnectorConfigError
from connector.hubspot import associations, describe, scopes, write
from connector.hubspot import tasks as engagements
from connector.hubspot.associations import pages_with_associations
from connector.hubspot.associations import read_associations as associations_of
from connector.hubspot.client import API_ERRORS, HubSpotApis, api_error, next_after, raw_json
from connector.hubspot.pull import WindowSearch, stamp_property
from connector.hubspot.settings import HubSpotSettings
from connector.hubspot.wire import CRM, parse_stamp, to_ms
from connector.protocol import (
    ChangePage,
    Deletion,
    FieldSpec,
    NoteSpec,
    ObjectDescription,
    RecordUpdate,
    TaskSpec,
    WriteOutcome,
)
from connector.readahead import read_ahead

LIST_PAGE = 100  # the list endpoint's largest page


class HubSpotConnector:
    """HubSpot through `hubspot-api-client`, every call paced, retried, classified and counted in `calls`.

    Cursors are read, never advanced: a pull reads `[cursor - lookback, run_started)` and reports each page's
    high-water stamp; the caller advances the cursor once the records are safely handled.
    """

    crm = CRM
    write_batch = 2_000  # batch updates take 100 records a call whatever the batch

    def __init__(self, settings: HubSpotSettings, *, calls: CallLog | None = None) -> None:
        self.settings = settings
        self.calls = calls if calls is not None else CallLog()
        self._apis = HubSpotApis(settings, self.calls)

    def __repr__(self) -> str:
        return f"HubSpotConnector(base_url={self.settings.base_url!r}, auth={self.settings.auth!r})"

    # ------------------------------------------------------------------------------------------ reading
    def window(self, cursor: dict[str, Any] | None, *, run_started: datetime) -> Window:
        """The window a pull with this cursor reads."""
        return window(
            cursor, run_started=run_started, lookback=timedelta(seconds=self.settings.lookback_seconds)
        )

    def pull_changes(
        self,
        obj: str,
        fields: Sequence[str],
        cursor: dict[str, Any] | None,
        *,
        run_started: datetime,
        associations: Sequence[str] | None = None,
    ) -> Iterator[ChangePage]:
        """Records of `obj` whose modified stamp is in the window, each once, oldest first.

        Records come flattened (`{"id": ..., **properties}`) with the requested properties plus the stamp
        (`lastmodifieddate` for contacts, `hs_lastmodifieddate` otherwise) and `hs_object_id`.

        With `associations` (to-types, possibly none), each record also carries its associated ids as
        `{"associations": {to_type: {"results": [{"id": ...}]}}}`, read for several pages at once (up to
        `association_batch_size` ids a call, see `pages_with_associations`), and the next pages (an
        association read's worth) are read on a worker thread while the caller uses this one, one request at
        a time. Without it nothing is read
        ahead, since the caller may then make calls of its own between pages.
        """
        w = self.window(cursor, run_started=run_started)
        search = WindowSearch(self._apis, obj, fields, to_ms(w.start), to_ms(w.end))
        if associations is None:
            for records, high in search.pages():
                yield ChangePage(object=obj, records=records, high_water=high)
            return
        linked = pages_with_associations(
            search.pages(),
            tuple(associations),
            lambda ids, to_type: associations_of(self._apis, obj, ids, to_type),
            self.settings.association_batch_size,
        )
        pages = (ChangePage(object=obj, records=records, high_water=high) for records, high in linked)
        # Pages come out in bursts (one association read releases several search pages): read a burst's
        # worth ahead, so the next burst is fetched while the caller works through this one.
        size, page = self.settings.association_batch_size, self.settings.search_page_size
        burst = max(1, -(-size // page)) if associations else 1
        yield from read_ahead(pages, name=f"leadq-search-{obj}", depth=burst)

    def pull_deletions(
        self, obj: str, cursor: dict[str, Any] | None, *, run_started: datetime
    ) -> Iterator[list[Deletion]]:
        """Records archived in the window, from `GET /crm/v3/objects/{obj}?archived=true`.

        HubSpot's list cannot filter by time, so every archived record is paged and filtered here by
        `archivedAt` (or `updatedAt`).
        """
        w = self.window(cursor, run_started=run_started)
        after: str | None = None
        while True:
            kwargs: dict[str, Any] = {
                "limit": LIST_PAGE,
                "archived": True,
                "properties": [stamp_property(obj)],
            }
            if after:
                kwargs["after"] = after
            try:
                answer = raw_json(self._apis.objects_basic.get_page, obj, **kwargs)
            except API_ERRORS as exc:
                info = api_error(exc)
                raise ConnectorConfigError(
                    f"HubSpot refused to list archived {obj} (HTTP {info.status}): {info.message}",
                    crm=CRM,
                    status=info.status,
                ) from None
            page = []
            for result in answer.get("results") or []:
                at = parse_stamp(result.get("archivedAt")) or parse_stamp(result.get("updatedAt"))
                if at is None or w.start <= at < w.end:
                    page.append(Deletion(object=obj, id=str(result["id"]), deleted_at=at))
            if page:
                yield page
            after = next_after(answer)
            if not after:
                return

    def associations(self, from_type: str, ids: Sequence[str], to_type: str) -> dict[str, list[str]]:
        """For each id, the associated `to_type` ids (v4 batch read, up to 1,000 ids a call); [] when none."""
        return associations.read_associations(self._apis, from_type, ids, to_type)

    def describe(self, obj: str) -> ObjectDescription:
        """The object's properties (read-only values are not updateable)."""
        return describe.describe(self._apis, obj)

    def completed_tasks(
        self, fields: Sequence[str], cursor: dict[str, Any] | None, *, run_started: datetime
    ) -> Iterator[ChangePage]:
        """leadq tasks (with a `leadq_key`) completed in the window, each with its `contact_id`."""
        w = self.window(cursor, run_started=run_started)
        for records, high in engagements.completed_tasks(self._apis, fields, to_ms(w.start), to_ms(w.end)):
            yield ChangePage(object="tasks", records=records, high_water=high)

    def granted_scopes(self) -> frozenset[str] | None:
        """The scopes HubSpot granted the configured token (private app or OAuth); None if it did not say.

        A credential HubSpot refuses raises `AuthError`, as any other call would.
        """
        return scopes.granted_scopes(self._apis)

    # ------------------------------------------------------------------------------------------ writing
    def apply_updates(self, obj: str, updates: Sequence[RecordUpdate]) -> list[WriteOutcome]:
        """Batch update 100 a call, bisecting batches HubSpot refuses whole; one outcome per update."""
        return write.apply_updates(self._apis, obj, updates)

    def create_tasks(self, tasks: Sequence[TaskSpec]) -> list[WriteOutcome]:
        """Review tasks associated to their contact (type 204), skipping keys that already exist."""
        return engagements.create_tasks(self._apis, tasks)

    def create_notes(self, notes: Sequence[NoteSpec]) -> list[WriteOutcome]:
        """Notes associated to their contact (type 202), idempotent by key."""
        return engagements.create_notes(self._apis, notes)

    def create_fields(self, specs: Sequence[FieldSpec]) -> list[WriteOutcome]:
        """Properties in their group (created if missing); existing ones are reported written, unchanged."""
        return describe.create_fields(self._apis, specs)

    # ------------------------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release connections and the rate limiters' threads."""
        self._apis.close()

    def __enter__(self) -> HubSpotConnector:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
