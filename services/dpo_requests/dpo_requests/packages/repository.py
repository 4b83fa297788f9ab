"""All SQL on data packages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from vigie_shared.kit.db import Conn, record


@dataclass(frozen=True, slots=True)
class Package:
    """A request's data package (GDPR Art. 15(3), 20(1)), without its bytes."""

    id: str
    request_id: str
    filename: str
    sha256: str
    size: int
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PackageContent:
    """A package's bytes, as a download hands them out."""

    filename: str
    content: bytes
    expires_at: datetime


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
    ) -> Package:
        row = await conn.fetchrow(
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
        return record(Package, row)

    async def for_request(self, conn: Conn, request_id: str) -> Package | None:
        row = await conn.fetchrow(
            "SELECT id, request_id, filename, sha256, size, created_at, expires_at, downloads"
            " FROM packages WHERE request_id = $1",
            request_id,
        )
        return None if row is None else record(Package, row)

    async def take_content(self, conn: Conn, package_id: str) -> PackageContent | None:
        """The package's bytes, counting the download."""
        row = await conn.fetchrow(
            "UPDATE packages SET downloads = downloads + 1 WHERE id = $1 AND content IS NOT NULL"
            " RETURNING filename, content, expires_at",
            package_id,
        )
        return None if row is None else record(PackageContent, row)

    async def purge_expired(self, conn: Conn, *, now: datetime) -> int:
        """Storage limitation (GDPR Art. 5(1)(e)): an expired package's bytes are dropped."""
        status: str = await conn.execute(
            "UPDATE packages SET content = NULL WHERE expires_at < $1 AND content IS NOT NULL", now
        )
        return int(status.split()[-1])


package_repository = PackageRepository()
