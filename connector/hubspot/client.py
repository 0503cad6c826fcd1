"""The generated `hubspot-api-client` APIs, built on our `Transport` so every call is paced and accounted.

`HubSpot(..., api_factory=...)` is the client's own hook for building API clients: ours builds each
generated `ApiClient` from the settings and hands it the shared `Transport` as its connection pool, so no
request can bypass pacing, accounting, retries or auth, and no module is patched. API objects are cached.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable
from importlib import metadata
from typing import Any

import orjson
from hubspot import HubSpot
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.objects import ApiException as ObjectsApiException
from hubspot.crm.properties import ApiException as PropertiesApiException

from connector.accounting import CallLog
from connector.errors import AuthConfigError
from connector.hubspot.auth import OAuthRefreshToken, StaticToken, TokenGrant, TokenSource, grant_from
from connector.hubspot.settings import HubSpotSettings
from connector.hubspot.transport import TOKEN_PATH, Transport
from connector.hubspot.wire import CRM, ErrorInfo, error_info

# each generated package raises its own ApiException class (404, 409 and other answers we judge per record)
API_ERRORS: tuple[type[Exception], ...] = (
    ObjectsApiException,
    AssociationsApiException,
    PropertiesApiException,
)

_USER_AGENT = f"leadq hubspot-api-client-python/{metadata.version('hubspot-api-client')}"


class Json(dict[str, Any]):
    """A request body already made only of JSON values, as the generated client would have serialised it.

    The client walks every body before `json.dumps` (models to dicts, datetimes to text), one call per
    value: for a 1,000-id association read or a 100-record batch that walk cost more than the rest of the
    request. Bodies built as `Json` skip it; what is sent is the same `json.dumps` of the same dict.
    """


@functools.cache
def _client_class(base: type) -> type:
    """`base` (a generated `ApiClient`) that sends `Json` bodies without walking them."""

    class ApiClient(base):  # type: ignore[misc]
        def sanitize_for_serialization(self, obj: Any) -> Any:
            if type(obj) is Json:
                return obj
            return super().sanitize_for_serialization(obj)

    return ApiClient


class HubSpotApis:
    """The generated APIs leadq uses, all sharing one `Transport`."""

    def __init__(self, settings: HubSpotSettings, calls: CallLog) -> None:
        self.settings = settings
        self.transport = Transport(settings, calls)
        self._cache: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        # the bearer token is the transport's to set (it renews it), so it is not given to the client
        self.client = HubSpot(
            host=settings.base_url, ssl_ca_cert=settings.ca_bundle, api_factory=self._factory
        )
        self.tokens: TokenSource = (
            StaticToken(settings.token)
            if settings.auth == "private_app" and settings.token is not None
            else OAuthRefreshToken(settings, self._exchange)
        )
        self.transport.tokens = self.tokens

    def _factory(self, package: Any, api_name: str, config: dict[str, Any]) -> Any:
        key = (package.__name__, api_name)
        with self._lock:
            api = self._cache.get(key)
            if api is None:
                configuration = package.Configuration(host=self.settings.base_url)
                configuration.ssl_ca_cert = self.settings.ca_bundle
                # the server is the judge of its own answers; strict model checks only break on new fields
                configuration.client_side_validation = False
                api_client = _client_class(package.ApiClient)(configuration=configuration)
                api_client.user_agent = _USER_AGENT
                api_client.rest_client.pool_manager = self.transport
                api = getattr(package, api_name)(api_client=api_client)
                self._cache[key] = api
            return api

    # -- the generated APIs, by what they do
    @property
    def objects_search(self) -> Any:
        return self.client.crm.objects.search_api

    @property
    def objects_basic(self) -> Any:
        return self.client.crm.objects.basic_api

    @property
    def objects_batch(self) -> Any:
        return self.client.crm.objects.batch_api

    @property
    def associations_batch(self) -> Any:
        return self.client.crm.associations.v4.batch_api

    @property
    def properties(self) -> Any:
        return self.client.crm.properties.core_api

    @property
    def property_groups(self) -> Any:
        return self.client.crm.properties.groups_api

    def _exchange(self, form: dict[str, str]) -> TokenGrant:
        # Sent through the transport itself (accounted, paced, retried) rather than the generated OAuth
        # client, whose REST layer logs response bodies at DEBUG: here that body is the new tokens.
        response = self.transport.request(
            "POST", f"{self.settings.base_url}{TOKEN_PATH}", fields=form, encode_multipart=False
        )
        if response.status >= 300:
            info = error_info(response.status, response.data)
            raise AuthConfigError(
                f"the HubSpot token endpoint refused the refresh token grant (HTTP {response.status}): "
                f"{info.message or 'no message'}; check client_id, client_secret and refresh_token",
                crm=CRM,
                status=response.status,
                code=info.codes[0] if info.codes else None,
            )
        try:
            data = json.loads(response.data)
        except ValueError:
            raise AuthConfigError(
                "the HubSpot token endpoint answered something other than JSON", crm=CRM
            ) from None
        return grant_from(data)

    def close(self) -> None:
        self.transport.close()


def raw_json(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a generated API method and return its JSON body as plain dicts and lists.

    `_preload_content=False` is the generated client's own switch: its models parse every timestamp with
    dateutil, which costs more than the request itself on 200-record search pages.
    """
    response = call(*args, _preload_content=False, **kwargs)
    return orjson.loads(response.data) if response.data else {}


def next_after(answer: dict[str, Any]) -> str | None:
    """`paging.next.after` of a page, if there is a next page."""
    after = ((answer.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after else None


def api_error(exc: Any) -> ErrorInfo:
    """The error info of a generated client's `ApiException` (status and JSON body)."""
    return error_info(getattr(exc, "status", None), getattr(exc, "body", None))
