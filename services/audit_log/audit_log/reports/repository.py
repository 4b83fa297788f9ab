"""All SQL of reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from vigie_shared.kit.db import Conn


@dataclass(frozen=True)
class CampaignCounts:
    """One grouping set's line of the suspension-campaign query: the debts reminded in a month
    and channel, a month, a channel or in all (``all_periods``/``all_channels`` mark which)."""

    period: str | None
    channel: str | None
    all_periods: bool
    all_channels: bool
    reminded: int
    paid_after_reminder: int
    paid_before_suspension: int
    exempted: int
    suspended: int
    paid_after_suspension: int
    restored: int
    median_restore_seconds: float | None


def _counts(row: asyncpg.Record) -> CampaignCounts:
    median = row["median_restore_seconds"]
    return CampaignCounts(
        period=row["period"],
        channel=row["channel"],
        all_periods=row["all_periods"],
        all_channels=row["all_channels"],
        reminded=int(row["reminded"]),
        paid_after_reminder=int(row["paid_after_reminder"]),
        paid_before_suspension=int(row["paid_before_suspension"]),
        exempted=int(row["exempted"]),
        suspended=int(row["suspended"]),
        paid_after_suspension=int(row["paid_after_suspension"]),
        restored=int(row["restored"]),
        median_restore_seconds=None if median is None else float(median),
    )


class ReportRepository:
    async def suspension_campaign(
        self, conn: Conn, since: datetime | None, until: datetime | None
    ) -> list[CampaignCounts]:
        """The fate of each debt reminded in [since, until) (an absent bound: the log's start or
        end), counted per (month, channel), per
        month, per channel and in all (a ``grouping`` flag marks the totals), from the clear
        facets (debt_id, channel, debt_ids) and event times, so shredded entries still count.
        Each debt is followed through ``debt_entries`` (migration 0005): one B-tree probe per
        debt and step.
        A restoration counts for a debt when an ``access.restored`` naming it follows its
        suspension (whoever restored: payment, exemption or the office by hand)."""
        async with conn.transaction():
            # A short query that JIT compilation would make several times slower.
            await conn.execute("SET LOCAL jit = off")
            rows = await conn.fetch(
                """
            WITH reminded AS MATERIALIZED (
                SELECT facets->>'debt_id' AS debt_id, min(facets->>'channel') AS channel,
                       min(time) AS reminded_at
                FROM log_entries
                WHERE type = 'vigie.billing.debt.reminded'
                  AND time >= coalesce($1::timestamptz, '-infinity')
                  AND time < coalesce($2::timestamptz, 'infinity')
                GROUP BY 1
            ), suspended AS MATERIALIZED (
                SELECT r.debt_id, min(d.time) AS suspended_at
                FROM reminded r JOIN debt_entries d
                  ON d.debt_id = r.debt_id AND d.type = 'vigie.access.suspended'
                 AND d.time > r.reminded_at
                GROUP BY r.debt_id
            ), settled AS MATERIALIZED (
                SELECT r.debt_id, min(d.time) AS settled_at
                FROM reminded r JOIN debt_entries d
                  ON d.debt_id = r.debt_id AND d.type = 'vigie.billing.debt.settled'
                 AND d.time > r.reminded_at
                GROUP BY r.debt_id
            ), exempted AS MATERIALIZED (
                SELECT r.debt_id, min(d.time) AS exempted_at
                FROM reminded r JOIN debt_entries d
                  ON d.debt_id = r.debt_id AND d.type = 'vigie.billing.debt.exempted'
                GROUP BY r.debt_id
            ), restored AS MATERIALIZED (
                SELECT s.debt_id, min(d.time) AS restored_at
                FROM suspended s JOIN debt_entries d
                  ON d.debt_id = s.debt_id AND d.type = 'vigie.access.restored'
                 AND d.time >= s.suspended_at
                GROUP BY s.debt_id
            ), fate AS MATERIALIZED (
                SELECT r.channel, s.suspended_at, p.settled_at, x.exempted_at, o.restored_at,
                       -- The office counts its campaigns by month, in Paris time.
                       to_char(r.reminded_at AT TIME ZONE 'Europe/Paris', 'YYYY-MM') AS period
                FROM reminded r
                LEFT JOIN suspended s USING (debt_id)
                LEFT JOIN settled p USING (debt_id)
                LEFT JOIN exempted x USING (debt_id)
                LEFT JOIN restored o USING (debt_id)
            )
            SELECT period, channel,
                   grouping(period) = 1 AS all_periods, grouping(channel) = 1 AS all_channels,
                   count(*) AS reminded,
                   count(settled_at) AS paid_after_reminder,
                   count(*) FILTER (WHERE settled_at IS NOT NULL
                       AND (suspended_at IS NULL OR settled_at < suspended_at))
                       AS paid_before_suspension,
                   count(*) FILTER (WHERE exempted_at IS NOT NULL AND suspended_at IS NULL)
                       AS exempted,
                   count(suspended_at) AS suspended,
                   count(*) FILTER (WHERE settled_at >= suspended_at) AS paid_after_suspension,
                   count(restored_at) AS restored,
                   percentile_cont(0.5) WITHIN GROUP (
                       ORDER BY extract(epoch FROM restored_at - suspended_at))
                       AS median_restore_seconds
            FROM fate
            GROUP BY GROUPING SETS ((period, channel), (period), (channel), ())
            ORDER BY all_periods, period, all_channels, channel
            """,
                since,
                until,
            )
        return [_counts(row) for row in rows]


report_repository = ReportRepository()
