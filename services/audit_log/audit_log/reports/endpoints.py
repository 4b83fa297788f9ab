from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from audit_log.deps import Audit, AuditedReader, DbConn
from audit_log.reports.schemas import SuspensionCampaignReport
from vigie_shared.kit.http import Problem

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get(
    "/suspension-campaign",
    response_model=SuspensionCampaignReport,
    summary="Reminders, payments and suspensions per channel for a period",
)
async def suspension_campaign(
    _reader: AuditedReader,
    audit: Audit,
    conn: DbConn,
    since: Annotated[datetime, Query(description="Reminders from (inclusive).")],
    until: Annotated[datetime, Query(description="Reminders before (exclusive).")],
) -> SuspensionCampaignReport:
    if until <= since:
        raise Problem(400, "Bad Request", "until must be after since.")
    return await audit.reports.suspension_campaign(conn, since, until)
