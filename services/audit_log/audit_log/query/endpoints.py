from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from audit_log.deps import Audit, AuditedReader, DbConn
from audit_log.query.schemas import EntryFilter, EntryPage, EntryPublic
from vigie_shared.kit.http import Problem

router = APIRouter(tags=["entries"])

Filters = Annotated[EntryFilter, Query()]


@router.get("/entries", response_model=EntryPage, summary="Entries, filtered, in log order")
async def list_entries(
    request: Request,
    _reader: AuditedReader,
    audit: Audit,
    conn: DbConn,
    where: Filters,
    after: Annotated[int, Query(ge=-1, description="Last index of the previous page.")] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EntryPage | StreamingResponse:
    if "text/csv" in request.headers.get("accept", ""):
        return _csv(request, audit, where)
    return await audit.query.page(conn, where, after=after, limit=limit)


@router.get("/entries.csv", summary="Every matching entry as CSV")
async def export_csv(
    request: Request, _reader: AuditedReader, audit: Audit, where: Filters
) -> StreamingResponse:
    return _csv(request, audit, where)


def _csv(request: Request, audit: Audit, where: EntryFilter) -> StreamingResponse:
    async def rows() -> AsyncIterator[str]:
        # A connection of its own: the response outlives the request's dependencies.
        async with request.app.state.runtime.pool.acquire() as conn:
            async for chunk in audit.query.csv(conn, where):
                yield chunk

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-entries.csv"'},
    )


@router.get("/entries/{index}", response_model=EntryPublic, summary="One entry by leaf index")
async def get_entry(index: int, _reader: AuditedReader, audit: Audit, conn: DbConn) -> EntryPublic:
    entry = await audit.query.get(conn, index)
    if entry is None:
        raise Problem(404, "Not Found", f"No entry at index {index}.")
    return entry
