"""RP-Initiated Logout 1.0: the end-session endpoint."""

from __future__ import annotations

from typing import Any

from authlib.oidc.rpinitiated import EndSessionEndpoint
from joserfc.jwk import KeySet

from sso_gateway.oauth.grants.base import ALGORITHMS
from sso_gateway.oauth.hooks import ProviderHooks
from sso_gateway.oauth.requests import Request
from sso_gateway.sessions.service import sessions
from vigie_shared.kit.db import Conn


class EndSession(EndSessionEndpoint):
    """OIDC RP-Initiated Logout 1.0. The post-logout redirect is checked by Authlib against the
    client's registration (§3); ending the session is ours."""

    def get_server_jwks(self) -> KeySet:
        provider: ProviderHooks = self.server
        return provider.keyring.verification_keys()

    def get_algorithms(self) -> list[str]:
        return ALGORITHMS

    def end_session(self, end_session_request: Any) -> None:
        request: Request = end_session_request.request
        provider: ProviderHooks = self.server
        session = request.browser_session
        if session is None:
            # The session ended is this browser's (its cookie), never one an ``id_token_hint``
            # names by itself: anyone holding a copy of someone's ID token could otherwise end
            # their session from anywhere (§2: the hint identifies, the End-User decides).
            return
        sid = session.id

        async def end(conn: Conn) -> None:
            async with conn.transaction():
                await sessions.revoke(conn, provider.settings, sid, "logout")

        provider.call(end)
