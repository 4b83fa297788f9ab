"""All SQL on data packages."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from vigie_shared.kit.db import Conn


class PackageRepository:
    async def insert(
        self,
        conn: Conn,
        *,
        package_id: str,
        request_id: str,
        filename: str,
        content: bytes,
        sha256: str,
        expires_at: datetime,
    ) -> asyncpg.Record:
        row: asyncpg.Record | None = await conn.fetchrow(
            "INSERT INTO packages (id, request_id, filename, content, sha256, size, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " RETURNING id, request_id, filename, sha256, size, created_at, expires_at",
            package_id,
            request_id,
            filename,
            content,
            sha256,
            len(content),
            expires_at,
        )
        assert row is not None
        return row

    async def for_request(self, conn: Conn, request_id: str) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await conn.fetchrow(
            "SELECT id, request_id, filename, sha256, size, created_at, expires_at, downloads"
            " FROM packages WHERE request_id = $1",
            request_id,
        )
        return row

    async def take_content(self, conn: Conn, package_id: str) -> asyncpg.Record | None:
        """The package's bytes, counting the download."""
        row: asyncpg.Record | None = await conn.fetchrow(
            "UPDATE packages SET downloads = downloads + 1 WHERE id = $1 AND content IS NOT NULL"
            " RETURNING filename, content, expires_at",
            package_id,
        )
        return row

    async def purge_expired(self, conn: Conn, *, now: datetime) -> int:
        """Storage limitation (GDPR Art. 5(1)(e)): an expired package's bytes are dropped."""
        status: str = await conn.execute(
            "UPDATE packages SET content = NULL WHERE expires_at < $1 AND content IS NOT NULL", now
        )
        return int(status.split()[-1])


package_repository = PackageRepository()
