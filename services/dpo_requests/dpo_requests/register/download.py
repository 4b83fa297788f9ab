"""The register's CSV as an HTTP download, streamed: the bearer API and the DPO's pages both
answer with it."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import date
from typing import Any

import asyncpg
from fastapi.responses import StreamingResponse

from dpo_requests.register.export import register_export


async def csv_download(pool: asyncpg.Pool, *, today: date, **options: Any) -> StreamingResponse:
    """``register_export.csv(today=today, **options)`` as a file to save. The first chunk is
    produced before the status line goes out, so that a failing query is still an error
    response rather than a 200 cut short."""

    async def chunks() -> AsyncGenerator[bytes, None]:
        # A connection of the stream's own, and each generator closed by the one it feeds:
        # however the response ends (the client may leave half-way), the cursor's
        # transaction ends before the connection is given back.
        async with pool.acquire() as conn:
            stream = register_export.csv(conn, today=today, **options)
            async with aclosing(stream):
                async for chunk in stream:
                    yield chunk

    body = chunks()
    first = await anext(body)

    async def rest() -> AsyncGenerator[bytes, None]:
        async with aclosing(body):
            yield first
            async for chunk in body:
                yield chunk

    return StreamingResponse(
        rest(),
        # RFC 4180 section 3: text/csv with its optional charset and header parameters.
        media_type="text/csv; charset=utf-8; header=present",
        headers={"Content-Disposition": f'attachment; filename="registre-demandes-{today}.csv"'},
    )
