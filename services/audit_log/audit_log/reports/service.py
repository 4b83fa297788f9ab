"""The access-suspension campaign report: reminder, 8 days' grace, suspension, restoration on
payment (docs/architecture.md, who uses it), measured per payment channel and per month from the log
itself, as JSON or as CSV for the accounting office's spreadsheets."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from audit_log.reports.repository import CampaignCounts, ReportRepository, report_repository
from audit_log.reports.schemas import ChannelFigures, PeriodFigures, SuspensionCampaignReport
from vigie_shared.kit.db import Conn

ALL = "all"

_COUNTS = (
    "reminded",
    "paid_after_reminder",
    "paid_before_suspension",
    "exempted",
    "suspended",
    "paid_after_suspension",
    "restored",
)

CSV_COLUMNS = (
    "period",
    "channel",
    *_COUNTS,
    "payment_rate",
    "paid_within_grace_rate",
    "suspension_rate",
    "recovery_after_suspension_rate",
    "median_restore_seconds",
)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def _figures(counts: CampaignCounts) -> dict[str, Any]:
    median = counts.median_restore_seconds
    return {
        "channel": ALL if counts.all_channels else (counts.channel or "unknown"),
        "reminded": counts.reminded,
        "paid_after_reminder": counts.paid_after_reminder,
        "paid_before_suspension": counts.paid_before_suspension,
        "exempted": counts.exempted,
        "suspended": counts.suspended,
        "paid_after_suspension": counts.paid_after_suspension,
        "restored": counts.restored,
        "median_restore_seconds": None if median is None else round(median, 3),
        "payment_rate": _rate(counts.paid_after_reminder, counts.reminded),
        "paid_within_grace_rate": _rate(counts.paid_before_suspension, counts.reminded),
        "suspension_rate": _rate(counts.suspended, counts.reminded),
        "recovery_after_suspension_rate": _rate(counts.paid_after_suspension, counts.suspended),
    }


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # OWASP CSV injection: a spreadsheet must not read a cell as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class ReportService:
    def __init__(self, repository: ReportRepository = report_repository) -> None:
        self._repository = repository

    async def suspension_campaign(
        self, conn: Conn, since: datetime | None = None, until: datetime | None = None
    ) -> SuspensionCampaignReport:
        """Debts reminded in [since, until); without a bound, from the log's first entry or to
        its last."""
        lines = await self._repository.suspension_campaign(conn, since, until)
        channels = [
            ChannelFigures(**_figures(line))
            for line in lines
            if line.all_periods and not line.all_channels
        ]
        periods = [
            PeriodFigures(period=line.period, **_figures(line))
            for line in lines
            if not line.all_periods
        ]
        totals = [line for line in lines if line.all_periods and line.all_channels]
        total = ChannelFigures(**_figures(totals[0] if totals else _EMPTY))
        return SuspensionCampaignReport(
            since=since, until=until, channels=channels, periods=periods, total=total
        )

    async def suspension_campaign_csv(
        self, conn: Conn, since: datetime | None = None, until: datetime | None = None
    ) -> str:
        """One line per month and channel, the month's total, each channel's total and the
        grand total (period and channel ``all``), rates as fractions, times in seconds."""
        report = await self.suspension_campaign(conn, since, until)
        lines: list[dict[str, Any]] = [p.model_dump() for p in report.periods]
        lines += [{"period": ALL, **c.model_dump()} for c in [*report.channels, report.total]]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180 §2
        writer.writerow(CSV_COLUMNS)
        for line in lines:
            writer.writerow([_cell(line[column]) for column in CSV_COLUMNS])
        return out.getvalue()


_EMPTY = CampaignCounts(
    period=None,
    channel=None,
    all_periods=True,
    all_channels=True,
    reminded=0,
    paid_after_reminder=0,
    paid_before_suspension=0,
    exempted=0,
    suspended=0,
    paid_after_suspension=0,
    restored=0,
    median_restore_seconds=None,
)
"""The grand total of a window without reminders: the query has no line then."""
