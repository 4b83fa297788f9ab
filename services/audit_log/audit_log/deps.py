"""FastAPI dependencies shared by the features' endpoints (full-stack template style aliases)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from audit_log.context import AuditLog
from vigie_shared.kit.db import Conn
from vigie_shared.kit.oidc import Principal, app_verifier, bearer

AUDITOR_ROLES = ("dpo", "admin")


# A coroutine, though it does not wait: FastAPI runs a plain function dependency in a worker
# thread (``run_in_threadpool``), a thread hop on every request.
async def get_audit(request: Request) -> AuditLog:
    audit: AuditLog = request.app.state.audit
    return audit


async def get_conn(request: Request) -> AsyncIterator[Conn]:
    async with request.app.state.runtime.pool.acquire() as conn:
        yield conn


Audit = Annotated[AuditLog, Depends(get_audit)]
DbConn = Annotated[Conn, Depends(get_conn)]
Auditor = Annotated[Principal, Depends(bearer(app_verifier, *AUDITOR_ROLES))]


async def audited_read(
    request: Request, principal: Auditor, audit: Audit, conn: DbConn
) -> Principal:
    """An auditor whose read is now on the record (it is appended before the answer is made)."""
    await audit.read_records.record(
        conn, principal, request.method, request.url.path, dict(request.query_params)
    )
    return principal


AuditedReader = Annotated[Principal, Depends(audited_read)]
