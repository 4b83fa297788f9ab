"""All SQL on users."""

from __future__ import annotations

import asyncpg

from vigie_shared.kit.db import Conn


class UserRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        user_id: str,
        email: str,
        display_name: str,
        password_hash: str,
        roles: list[str],
    ) -> asyncpg.Record | None:
        """Insert unless the e-mail is taken; returns the row, or None when it already existed."""
        row: asyncpg.Record | None = await conn.fetchrow(
            "INSERT INTO users (id, email, display_name, password_hash, roles)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (lower(email)) DO NOTHING"
            " RETURNING id, email, display_name, roles, created_at",
            user_id,
            email,
            display_name,
            password_hash,
            roles,
        )
        return row

    async def get_by_email(self, conn: Conn, email: str) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT id, email, display_name, roles, created_at, password_hash FROM users"
            " WHERE lower(email) = lower($1)",
            email,
        )
        return row


user_repository = UserRepository()
