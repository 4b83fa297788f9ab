from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from audit_log.deps import Audit, AuditedReader, DbConn
from audit_log.reports.schemas import SuspensionCampaignReport
from vigie_shared.kit.http import Problem

router = APIRouter(prefix="/reports", tags=["reports"])

Since = Annotated[
    datetime | None, Query(description="Reminders from (inclusive); absent: the log's start.")
]
Until = Annotated[
    datetime | None,
    Query(description="Reminders before (exclusive); absent: no end (the whole history)."),
]


def _check(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and until <= since:
        raise Problem(400, "Bad Request", "until must be after since.")


def _csv_name(since: datetime | None, until: datetime | None) -> str:
    start = "start" if since is None else f"{since:%Y%m%d}"
    end = "end" if until is None else f"{until:%Y%m%d}"
    return f"suspension-campaign-{start}-{end}.csv"


@router.get(
    "/suspension-campaign",
    response_model=SuspensionCampaignReport,
    summary="Reminders, payments, suspensions and restorations per channel and month",
)
async def suspension_campaign(
    _reader: AuditedReader,
    audit: Audit,
    conn: DbConn,
    since: Since = None,
    until: Until = None,
) -> SuspensionCampaignReport:
    _check(since, until)
    return await audit.reports.suspension_campaign(conn, since, until)


@router.get(
    "/suspension-campaign.csv",
    summary="The same report as CSV (RFC 4180): per month and channel, then the totals",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def suspension_campaign_csv(
    _reader: AuditedReader,
    audit: Audit,
    conn: DbConn,
    since: Since = None,
    until: Until = None,
) -> Response:
    _check(since, until)
    body = await audit.reports.suspension_campaign_csv(conn, since, until)
    name = _csv_name(since, until)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
