"""All SQL on users."""

from __future__ import annotations

from sso_gateway.users.records import LoginAccount
from sso_gateway.users.schemas import UserPublic
from vigie_shared.kit.db import Conn, record

PUBLIC = "id, email, display_name, roles, created_at, username"


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
        username: str | None = None,
    ) -> UserPublic | None:
        """Insert unless the e-mail or username is taken; returns the account, or None when
        it already existed."""
        row = await conn.fetchrow(
            "INSERT INTO users (id, email, display_name, password_hash, roles, username)"  # noqa: S608
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
            f" RETURNING {PUBLIC}",
            user_id,
            email,
            display_name,
            password_hash,
            roles,
            username,
        )
        return None if row is None else UserPublic.model_validate(dict(row))

    async def public_by_email(self, conn: Conn, email: str) -> UserPublic | None:
        """The live account with this e-mail, as the commands and the API show it."""
        row = await conn.fetchrow(
            f"SELECT {PUBLIC} FROM users"  # noqa: S608
            " WHERE lower(email) = lower($1) AND erased_at IS NULL",
            email,
        )
        return None if row is None else UserPublic.model_validate(dict(row))

    async def list_public(
        self, conn: Conn, *, limit: int, after_email: str | None = None, role: str | None = None
    ) -> list[UserPublic]:
        """Live accounts by e-mail, ``limit`` at a time after ``after_email`` (keyset paging:
        each page costs the same however far it is)."""
        rows = await conn.fetch(
            f"SELECT {PUBLIC} FROM users WHERE erased_at IS NULL"  # noqa: S608
            " AND ($2::text IS NULL OR lower(email) > lower($2))"
            " AND ($3::text IS NULL OR $3 = ANY(roles))"
            " ORDER BY lower(email) LIMIT $1",
            limit,
            after_email,
            role,
        )
        return [UserPublic.model_validate(dict(row)) for row in rows]

    async def get_for_login(self, conn: Conn, identifier: str) -> LoginAccount | None:
        """The live account whose username or e-mail is ``identifier``."""
        row = await conn.fetchrow(
            "SELECT id, password_hash FROM users"
            " WHERE (lower(username) = lower($1) OR lower(email) = lower($1))"
            " AND erased_at IS NULL AND restricted_at IS NULL",
            identifier,
        )
        return None if row is None else record(LoginAccount, row)

    async def password_of(self, conn: Conn, user_id: str) -> LoginAccount | None:
        """The live, unrestricted account ``user_id`` with what checks its password."""
        row = await conn.fetchrow(
            "SELECT id, password_hash FROM users"
            " WHERE id = $1 AND erased_at IS NULL AND restricted_at IS NULL",
            user_id,
        )
        return None if row is None else record(LoginAccount, row)

    async def id_of(self, conn: Conn, identifier: str) -> str | None:
        """The live account whose id, username or e-mail is ``identifier``."""
        found: str | None = await conn.fetchval(
            "SELECT id FROM users WHERE (id = $1 OR lower(username) = lower($1)"
            " OR lower(email) = lower($1)) AND erased_at IS NULL",
            identifier,
        )
        return found

    async def replace_password_hash(
        self, conn: Conn, user_id: str, *, old_hash: str | None, new_hash: str
    ) -> bool:
        """Set the hash, only while it is still ``old_hash`` (when given): a change checked
        against a password that another change replaced meanwhile is refused. Whether set."""
        done = await conn.fetchval(
            "UPDATE users SET password_hash = $3, updated_at = now()"
            " WHERE id = $1 AND erased_at IS NULL AND ($2::text IS NULL OR password_hash = $2)"
            " RETURNING true",
            user_id,
            old_hash,
            new_hash,
        )
        return bool(done)

    async def get(self, conn: Conn, user_id: str) -> UserPublic | None:
        row = await conn.fetchrow(
            f"SELECT {PUBLIC} FROM users WHERE id = $1 AND erased_at IS NULL",  # noqa: S608
            user_id,
        )
        return None if row is None else UserPublic.model_validate(dict(row))

    async def set_password_hash(self, conn: Conn, user_id: str, password_hash: str) -> None:
        await conn.execute(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
            user_id,
            password_hash,
        )


user_repository = UserRepository()
