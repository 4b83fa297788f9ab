"""All SQL of the DPO's tasks on the gateway's personal data."""

from __future__ import annotations

from typing import Any

import asyncpg

from vigie_shared.kit.db import Conn


class DataRightsRepository:
    async def profile(self, conn: Conn, user_id: str) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT id, username, email, display_name, roles, created_at, updated_at,"
            " restricted_at, erased_at FROM users WHERE id = $1",
            user_id,
        )
        return row

    async def login_history(self, conn: Conn, user_id: str) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT at, ip, succeeded FROM login_attempts WHERE user_id = $1 ORDER BY at",
            user_id,
        )
        return rows

    async def sessions(self, conn: Conn, user_id: str) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await conn.fetch(
            "SELECT s.id, s.auth_time, s.expires_at, s.revoked_at, s.ip,"
            " coalesce(array_agg(c.client_id) FILTER (WHERE c.client_id IS NOT NULL), '{}')"
            " AS platforms FROM sessions s LEFT JOIN session_clients c ON c.session_id = s.id"
            " WHERE s.user_id = $1 GROUP BY s.id ORDER BY s.auth_time",
            user_id,
        )
        return rows

    async def anonymise(self, conn: Conn, user_id: str) -> None:
        # The row stays (foreign keys, audit) but identifies no one, and its password hash
        # matches no password, so the account cannot log in again.
        await conn.execute(
            "UPDATE users SET email = 'erased+' || id || '@invalid', display_name = 'erased',"
            " username = NULL, password_hash = '!', roles = '{}', erased_at = now(),"
            " updated_at = now() WHERE id = $1",
            user_id,
        )
        await conn.execute(
            "UPDATE login_attempts SET ip = NULL, identifier = 'erased', device = NULL"
            " WHERE user_id = $1",
            user_id,
        )
        await conn.execute("UPDATE sessions SET ip = NULL WHERE user_id = $1", user_id)

    async def rectify(self, conn: Conn, user_id: str, changes: dict[str, Any]) -> None:
        await conn.execute(
            "UPDATE users SET email = coalesce($2, email),"
            " display_name = coalesce($3, display_name), username = coalesce($4, username),"
            " updated_at = now() WHERE id = $1",
            user_id,
            changes.get("email"),
            changes.get("display_name"),
            changes.get("username"),
        )

    async def restrict(self, conn: Conn, user_id: str) -> None:
        await conn.execute(
            "UPDATE users SET restricted_at = coalesce(restricted_at, now()) WHERE id = $1",
            user_id,
        )


data_rights_repository = DataRightsRepository()
