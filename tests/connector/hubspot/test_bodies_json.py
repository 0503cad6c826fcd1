"""Search, task and note bodies built as JSON are what the generated models serialised to, byte for byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hubspot.crm.objects import (
    ApiClient,
    AssociationSpec,
    BatchInputSimplePublicObjectBatchInputForCreate,
    Configuration,
    Filter,
    FilterGroup,
    PublicAssociationsForObject,
    PublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInputForCreate,
)
from hypothesis import given
from hypothesis import strategies as st

from connector.hubspot.client import Json
from connector.hubspot.pull import search_body, search_filter
from connector.hubspot.tasks import _associated, _input, association_type

_CLIENT = ApiClient()
_CONFIG = Configuration()
_OPERATORS = ("EQ", "NEQ", "LT", "LTE", "GT", "GTE", "IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY")
_text = st.text(max_size=12)


def _sent(body: Any) -> str:
    # What the client hands to `json.dumps` (a `Json` body is handed on as it stands).
    sanitised = body if type(body) is Json else _CLIENT.sanitize_for_serialization(body)
    return json.dumps(sanitised)


def _model_filter(prop: str, operator: str, value: Any, values: list[str] | None) -> Filter:
    # The model the connector built before (the old `search_filter`).
    return Filter(
        property_name=prop,
        operator=operator,
        value=None if value is None else str(value),
        values=list(values) if values is not None else None,
        local_vars_configuration=_CONFIG,
    )


_filters = st.lists(
    st.tuples(
        _text,
        st.sampled_from(_OPERATORS),
        st.none() | _text | st.integers(0, 2**45),
        st.none() | st.lists(_text, max_size=4),
    ),
    min_size=1,
    max_size=4,
)


@given(_filters, _text, st.lists(_text, max_size=5), st.integers(1, 200), st.none() | st.integers(0, 9_999))
def test_a_search_body_is_the_search_model_as_sent(
    filters: list[tuple[str, str, Any, list[str] | None]],
    sort: str,
    properties: list[str],
    limit: int,
    after: int | None,
) -> None:
    model = PublicObjectSearchRequest(
        filter_groups=[
            FilterGroup(filters=[_model_filter(*f) for f in filters], local_vars_configuration=_CONFIG)
        ],
        sorts=[{"propertyName": sort, "direction": "ASCENDING"}],
        properties=properties,
        limit=limit,
        after=None if after is None else str(after),
        local_vars_configuration=_CONFIG,
    )
    body = search_body(
        [search_filter(*f) for f in filters], sort, properties, limit, None if after is None else str(after)
    )
    assert type(body) is Json
    assert _sent(body) == _sent(model)


_engagement_targets = st.sampled_from(
    [
        ("tasks", "contacts"),
        ("tasks", "companies"),
        ("tasks", "deals"),
        ("notes", "contacts"),
        ("notes", "deals"),
    ]
)


@given(
    st.lists(
        st.tuples(
            st.dictionaries(_text, _text, max_size=4),
            st.none() | st.tuples(_engagement_targets, st.integers(1, 10**12)),
        ),
        max_size=5,
    )
)
def test_create_bodies_are_the_create_models_as_sent(
    inputs: list[tuple[dict[str, str], tuple[tuple[str, str], int] | None]],
) -> None:
    models = []
    plain = []
    for properties, link in inputs:
        associations: list[PublicAssociationsForObject] = []
        if link is not None:
            (engagement, to_object), to_id = link
            spec = AssociationSpec(
                association_category="HUBSPOT_DEFINED",
                association_type_id=association_type(engagement, to_object),
                local_vars_configuration=_CONFIG,
            )
            associations = [
                PublicAssociationsForObject(
                    to=PublicObjectId(id=str(to_id), local_vars_configuration=_CONFIG),
                    types=[spec],
                    local_vars_configuration=_CONFIG,
                )
            ]
        models.append(
            SimplePublicObjectInputForCreate(
                properties=properties, associations=associations, local_vars_configuration=_CONFIG
            )
        )
        plain.append(_input(properties, _associated(*link[0], str(link[1])) if link is not None else []))
    model = BatchInputSimplePublicObjectBatchInputForCreate(inputs=models, local_vars_configuration=_CONFIG)
    assert _sent(Json(inputs=plain)) == _sent(model)


def test_a_stamp_filter_sends_epoch_milliseconds_as_text() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    ms = int(moment.timestamp() * 1000)
    assert search_filter("hs_lastmodifieddate", "GTE", ms) == {
        "propertyName": "hs_lastmodifieddate",
        "value": str(ms),
        "operator": "GTE",
    }
    assert search_filter("leadq_key", "IN", values=("a", "b")) == {
        "propertyName": "leadq_key",
        "values": ["a", "b"],
        "operator": "IN",
    }
