"""OAuth 2.0 token flows against `/services/oauth2/token`.

simple-salesforce's own login helper builds `https://{domain}.salesforce.com/...` token URLs, which cannot
reach a My Domain with a port or a local sandbox, and it returns only a host name. So the token call is
made here, through the same `requests.Session` as every other call (same CA bundle, same accounting).
Only `error` and `error_description` of a refusal are ever put into a message: never the request body.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import requests

from connector.classify import Action, classify
from connector.errors import AuthConfigError, AuthError, RetryableError
from connector.salesforce.failures import tls_error
from connector.salesforce.settings import AuthMethod, SalesforceSettings, Secret

log = logging.getLogger("leadq.connector.salesforce")
JWT_LIFETIME_S = 180  # Salesforce accepts assertions that expire within 3 minutes


@dataclass(frozen=True)
class Token:
    """A session: the bearer token and the instance it is valid on."""

    access_token: Secret
    instance_url: str


def _jwt_assertion(settings: SalesforceSettings) -> str:
    key = settings.secret("private_key")
    if key is None:
        key = Path(str(settings.private_key_path)).read_text(encoding="utf-8")
    claims = {
        "iss": settings.client_id,
        "sub": settings.username,
        "aud": settings.audience,
        "exp": int(time.time()) + JWT_LIFETIME_S,
    }
    try:
        return jwt.encode(claims, key, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        # The exception text may quote the key material; say only what kind of problem it is.
        raise AuthConfigError(
            f"the JWT private key could not sign an RS256 assertion ({type(exc).__name__}); "
            "configure an unencrypted PEM RSA private key",
            crm="salesforce",
        ) from None


def _form(settings: SalesforceSettings) -> dict[str, str]:
    method = settings.method
    if method is AuthMethod.CLIENT_CREDENTIALS:
        return {
            "grant_type": "client_credentials",
            "client_id": str(settings.client_id),
            "client_secret": settings.secret("client_secret") or "",
        }
    if method is AuthMethod.JWT_BEARER:
        return {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": _jwt_assertion(settings),
        }
    if method is AuthMethod.REFRESH_TOKEN:
        form = {
            "grant_type": "refresh_token",
            "client_id": str(settings.client_id),
            "refresh_token": settings.secret("refresh_token") or "",
        }
        if settings.client_secret:
            form["client_secret"] = settings.secret("client_secret") or ""
        return form
    if method is AuthMethod.PASSWORD:
        return {
            "grant_type": "password",
            "client_id": str(settings.client_id),
            "client_secret": settings.secret("client_secret") or "",
            "username": str(settings.username),
            "password": (settings.secret("password") or "") + (settings.secret("security_token") or ""),
        }
    raise AssertionError(f"no token request for {method}")


def fetch_token(settings: SalesforceSettings, session: requests.Session) -> Token:
    """A fresh session for the configured flow (or the given access token, which cannot be renewed)."""
    if settings.method is AuthMethod.ACCESS_TOKEN:
        assert isinstance(settings.access_token, Secret) and settings.instance_url
        return Token(settings.access_token, settings.instance_url)
    url = settings.token_url
    try:
        response = session.post(url, data=_form(settings), headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        tls = tls_error(exc, f"signing in at {url}")
        if tls is not None:
            raise tls from None
        raise RetryableError(
            f"could not reach the Salesforce token endpoint {url} ({type(exc).__name__})", crm="salesforce"
        ) from None
    body = _json(response)
    if response.status_code != 200:
        code = str(body.get("error") or body.get("errorCode") or response.status_code)
        description = str(body.get("error_description") or body.get("message") or response.reason)
        rule = classify("salesforce", response.status_code, code)
        what = f"Salesforce refused the {settings.method.value} login at {url}: {description}"
        if rule.action is Action.RETRY:
            raise RetryableError(what, crm="salesforce", status=response.status_code, code=code)
        if rule.action is Action.CONFIG or response.status_code in (400, 401, 403):
            hint = rule.hint or "check the connected app and the integration user"
            raise AuthConfigError(f"{what}; {hint}", crm="salesforce", status=response.status_code, code=code)
        raise AuthError(what, crm="salesforce", status=response.status_code, code=code)
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise AuthError(f"the token endpoint {url} answered without an access token", crm="salesforce")
    instance = str(body.get("instance_url") or settings.instance_url or "").rstrip("/")
    if not instance:
        raise AuthConfigError(
            "the token response names no instance_url; set instance_url in the Salesforce settings",
            crm="salesforce",
        )
    log.info("salesforce: signed in with %s on %s", settings.method.value, instance)
    return Token(Secret(token), instance)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
