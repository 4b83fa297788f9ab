from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from dpo_requests.deps import AppSettings, DbConn
from dpo_requests.packages.service import package_service
from vigie_shared.kit.clock import utcnow

router = APIRouter(tags=["packages"])


@router.get(
    "/packages/{token}",
    summary="Download a data package through its signed, expiring link",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}, 404: {"description": "Invalid link"}},
)
async def download_package(token: str, conn: DbConn, settings: AppSettings) -> Response:
    filename, content = await package_service.download(conn, token, now=utcnow(), settings=settings)
    return Response(
        content,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
