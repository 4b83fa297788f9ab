"""What Authlib reads of an HTTP request: an adapter over a request already read on the event
loop (query, form body, headers), as Authlib's own ``rfc6749/requests.py`` defines it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from authlib.oauth2.rfc6749 import (
    OAuth2Payload,
    OAuth2Request,
)

from sso_gateway.oauth.models import OAuthClient
from sso_gateway.sessions.records import BrowserSession


class Payload(OAuth2Payload):
    def __init__(self, values: list[tuple[str, str]]) -> None:
        self._data: dict[str, str] = {}
        self._datalist: dict[str, list[str]] = {}
        for name, value in values:
            self._data.setdefault(name, value)
            self._datalist.setdefault(name, []).append(value)

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class Request(OAuth2Request):
    """An HTTP request already read on the event loop (query, form body, headers)."""

    def __init__(
        self,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        query: list[tuple[str, str]],
        form: list[tuple[str, str]],
        *,
        browser_session: BrowserSession | None = None,
    ) -> None:
        # Authlib refuses http URIs other than loopback (its InsecureTransportError). TLS is
        # terminated in front of the gateway (the issuer URL is what clients see, https in
        # production), so the request URI the app sees says nothing about the transport.
        super().__init__(method, "https://" + uri.split("://", 1)[-1], headers=headers)
        self.uri = uri
        self.payload = Payload(query + form)
        self._args = dict(query)
        self._form = dict(form)
        self.browser_session = browser_session
        self.issued: dict[str, Any] = {}
        # Set when Authlib runs on the event loop (``Provider.token_response``): what its hooks
        # would read was loaded before, and what they write is queued here and awaited after.
        self.clients: dict[str, OAuthClient | None] | None = None
        # Each says whether its rows were written (a token pair is not, when the refresh token
        # it replaces was revoked meanwhile: ``GrantRepository.insert_token_pairs``).
        self.deferred: list[Callable[[], Coroutine[Any, Any, bool]]] = []
        # The refresh token or code (its keyed hash) the grant uses up.
        self.replaces: str | None = None
        self.loaded: dict[str, Any] = {}

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form
