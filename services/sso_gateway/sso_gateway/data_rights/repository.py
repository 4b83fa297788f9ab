"""All SQL of the DPO's tasks on the gateway's personal data."""

from __future__ import annotations

from typing import Any

from sso_gateway.data_rights.records import LoginEntry, Profile, SessionEntry
from vigie_shared.kit.db import Conn, record


class DataRightsRepository:
    async def profile(self, conn: Conn, user_id: str) -> Profile | None:
        row = await conn.fetchrow(
            "SELECT id, username, email, display_name, roles, created_at, updated_at,"
            " restricted_at, erased_at FROM users WHERE id = $1",
            user_id,
        )
        return None if row is None else record(Profile, row)

    async def login_history(self, conn: Conn, user_id: str) -> list[LoginEntry]:
        rows = await conn.fetch(
            "SELECT at, ip, succeeded FROM login_attempts WHERE user_id = $1 ORDER BY at",
            user_id,
        )
        return [record(LoginEntry, row) for row in rows]

    async def sessions(self, conn: Conn, user_id: str) -> list[SessionEntry]:
        rows = await conn.fetch(
            "SELECT s.id, s.auth_time, s.expires_at, s.revoked_at, s.ip,"
            " coalesce(array_agg(c.client_id) FILTER (WHERE c.client_id IS NOT NULL), '{}')"
            " AS platforms FROM sessions s LEFT JOIN session_clients c ON c.session_id = s.id"
            " WHERE s.user_id = $1 GROUP BY s.id ORDER BY s.auth_time",
            user_id,
        )
        return [record(SessionEntry, row) for row in rows]

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
