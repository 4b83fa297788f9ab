"""What the grants and token endpoints call back on the authorization server: a Protocol, so
that they depend on these few calls and not on the provider that registers them
(``oauth.server.Provider`` implements it; Authlib hands it to them as ``self.server``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from sso_gateway.config import Settings
from sso_gateway.keys.service import KeyRing
from sso_gateway.oauth.access_tokens import RotationWriter
from sso_gateway.oauth.models import GrantUser, OAuthClient
from sso_gateway.oauth.records import Granted
from sso_gateway.oauth.requests import Request
from vigie_shared.kit.db import Conn

T = TypeVar("T")


class ProviderHooks(Protocol):
    @property
    def settings(self) -> Settings: ...

    @property
    def keyring(self) -> KeyRing: ...

    def call(self, work: Callable[[Conn], Coroutine[Any, Any, T]]) -> T:
        """From a worker thread: ``work`` run on the event loop, waited for."""
        ...

    @property
    def rotations(self) -> RotationWriter:
        """The refresh tokens' rotations, group-committed."""
        ...

    def load(
        self,
        key: str,
        work: Callable[[Conn], Coroutine[Any, Any, T]],
        grouped: Callable[[], Coroutine[Any, Any, T]] | None = None,
    ) -> T:
        """What a storage hook reads or consumes, wherever Authlib runs (see ``bridge``)."""
        ...

    def issue(
        self,
        request: Request,
        grant_type: str,
        user: GrantUser | None,
        scope: str,
        include_refresh_token: bool,
        family_id: str | None,
        granted_resource: str | None = None,
    ) -> dict[str, Any]: ...

    def check_before_use(
        self,
        request: Request,
        client: OAuthClient,
        key: str,
        peek: Callable[[Conn], Coroutine[Any, Any, Granted | None]],
        check: Callable[[Granted], None],
    ) -> None: ...

    def query_token(self, token_string: str, hint: str | None) -> Any: ...
