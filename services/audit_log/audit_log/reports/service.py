"""The access-suspension campaign report: reminder, 8 days' grace, suspension, restoration on
payment (ARCHITECTURE.md, who uses it), measured per payment channel from the log itself."""

from __future__ import annotations

from datetime import datetime

from audit_log.reports.repository import ReportRepository, report_repository
from audit_log.reports.schemas import ChannelFigures, SuspensionCampaignReport
from vigie_shared.kit.db import Conn


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _figures(channel: str, counts: dict[str, int]) -> ChannelFigures:
    return ChannelFigures(
        channel=channel,
        **counts,
        payment_rate=_rate(counts["paid_after_reminder"], counts["reminded"]),
        paid_within_grace_rate=_rate(counts["paid_before_suspension"], counts["reminded"]),
        suspension_rate=_rate(counts["suspended"], counts["reminded"]),
        recovery_after_suspension_rate=_rate(counts["paid_after_suspension"], counts["suspended"]),
    )


_COUNTS = (
    "reminded",
    "paid_after_reminder",
    "paid_before_suspension",
    "exempted",
    "suspended",
    "paid_after_suspension",
)


class ReportService:
    def __init__(self, repository: ReportRepository = report_repository) -> None:
        self._repository = repository

    async def suspension_campaign(
        self, conn: Conn, since: datetime, until: datetime
    ) -> SuspensionCampaignReport:
        rows = await self._repository.suspension_campaign(conn, since, until)
        channels = [
            _figures(row["channel"] or "unknown", {k: row[k] for k in _COUNTS}) for row in rows
        ]
        total = {k: sum(row[k] for row in rows) for k in _COUNTS}
        return SuspensionCampaignReport(
            since=since, until=until, channels=channels, total=_figures("all", total)
        )
