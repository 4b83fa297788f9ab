"""All SQL on OIDC clients (the platforms)."""

from __future__ import annotations

from typing import Any

from sso_gateway.clients.records import ClientRecord
from vigie_shared.kit.db import Conn, record

COLUMNS = (
    "client_id, name, redirect_uris, training_platform, secret_hash, public, grant_types,"
    " post_logout_redirect_uris, backchannel_logout_uri, audiences, signing_alg,"
    " scopes, token_endpoint_auth_method, jwks, jwks_uri, require_pushed_authorization_requests,"
    " dpop_bound_access_tokens, fapi"
)


class ClientRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        client_id: str,
        name: str,
        redirect_uris: list[str],
        training_platform: bool,
        secret_hash: str | None = None,
        public: bool = False,
        grant_types: list[str] | None = None,
        post_logout_redirect_uris: list[str] | None = None,
        backchannel_logout_uri: str | None = None,
        audiences: list[str] | None = None,
        signing_alg: str = "ES256",
        client_uri: str | None = None,
        scopes: list[str] | None = None,
        token_endpoint_auth_method: str | None = None,
        jwks: dict[str, Any] | None = None,
        jwks_uri: str | None = None,
        require_pushed_authorization_requests: bool = False,
        dpop_bound_access_tokens: bool = False,
        fapi: bool = False,
    ) -> bool:
        status: str = await conn.execute(
            "INSERT INTO clients (client_id, name, redirect_uris, training_platform, secret_hash,"
            " public, grant_types, post_logout_redirect_uris, backchannel_logout_uri, audiences,"
            " signing_alg, client_uri, scopes, token_endpoint_auth_method, jwks, jwks_uri,"
            " require_pushed_authorization_requests, dpop_bound_access_tokens, fapi)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
            " $17, $18, $19)"
            " ON CONFLICT (client_id) DO NOTHING",
            client_id,
            name,
            redirect_uris,
            training_platform,
            secret_hash,
            public,
            grant_types or ["authorization_code", "refresh_token"],
            post_logout_redirect_uris or [],
            backchannel_logout_uri,
            audiences or [],
            signing_alg,
            client_uri,
            scopes or [],
            token_endpoint_auth_method,
            jwks,
            jwks_uri,
            require_pushed_authorization_requests,
            dpop_bound_access_tokens,
            fapi,
        )
        return status.endswith(" 1")

    async def set_missing_secret(self, conn: Conn, client_id: str, secret_hash: str) -> None:
        """For platforms registered before secrets existed (demo data of older runs)."""
        await conn.execute(
            "UPDATE clients SET secret_hash = $2 WHERE client_id = $1 AND secret_hash IS NULL"
            " AND NOT public",
            client_id,
            secret_hash,
        )

    async def add_redirect_uris(
        self,
        conn: Conn,
        client_id: str,
        redirect_uris: list[str],
        post_logout: list[str],
        client_uri: str | None = None,
    ) -> None:
        """Add URIs a registered client lacks (the demo's pages moved to another port); the
        ones it has stay, so an earlier registration keeps working. ``client_uri``, when
        given, becomes its home page."""
        await conn.execute(
            "UPDATE clients SET"
            " redirect_uris = ARRAY(SELECT DISTINCT unnest(redirect_uris || $2::text[])),"
            " post_logout_redirect_uris ="
            " ARRAY(SELECT DISTINCT unnest(post_logout_redirect_uris || $3::text[])),"
            " client_uri = coalesce($4, client_uri)"
            " WHERE client_id = $1",
            client_id,
            redirect_uris,
            post_logout,
            client_uri,
        )

    async def add_grants_and_scopes(
        self, conn: Conn, client_id: str, grant_types: list[str], scopes: list[str]
    ) -> None:
        """Add grant types and scopes a registered client lacks (a demo client registered by
        an earlier version), keeping those it has."""
        await conn.execute(
            "UPDATE clients SET"
            " grant_types = ARRAY(SELECT DISTINCT unnest(grant_types || $2::text[])),"
            " scopes = ARRAY(SELECT DISTINCT unnest(scopes || $3::text[]))"
            " WHERE client_id = $1",
            client_id,
            grant_types,
            scopes,
        )

    async def get(self, conn: Conn, client_id: str) -> ClientRecord | None:
        row = await conn.fetchrow(
            f"SELECT {COLUMNS} FROM clients WHERE client_id = $1",  # noqa: S608
            client_id,
        )
        return None if row is None else record(ClientRecord, row)

    async def by_ids(self, conn: Conn, client_ids: list[str]) -> list[ClientRecord]:
        rows = await conn.fetch(
            f"SELECT {COLUMNS} FROM clients WHERE client_id = ANY($1::text[])",  # noqa: S608
            client_ids,
        )
        return [record(ClientRecord, row) for row in rows]


client_repository = ClientRepository()
