"""All SQL on OIDC clients (the platforms)."""

from __future__ import annotations

from vigie_shared.kit.db import Conn


class ClientRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        client_id: str,
        name: str,
        redirect_uris: list[str],
        training_platform: bool,
    ) -> bool:
        status: str = await conn.execute(
            "INSERT INTO clients (client_id, name, redirect_uris, training_platform)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (client_id) DO NOTHING",
            client_id,
            name,
            redirect_uris,
            training_platform,
        )
        return status.endswith(" 1")


client_repository = ClientRepository()
