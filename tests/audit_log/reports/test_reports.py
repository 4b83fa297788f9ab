"""The suspension-campaign report: restorations, median time from suspension to restoration, per
month (Paris time) and per channel, and its CSV export. Every expected figure below is counted by
hand from the entries of ``campaign`` (reports/support.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.audit_log.reports.support import DAY, SINCE, UNTIL, campaign, counts, event
from tests.audit_log.support import Api, LogUnderTest, entry
from vigie_shared.kit.clock import PARIS, utcnow

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_report_counts_restorations_and_the_median_time_to_restore(
    log: LogUnderTest,
) -> None:
    await campaign(log)
    async with log.pool.acquire() as conn:
        report = await log.audit.reports.suspension_campaign(conn, SINCE, UNTIL)
    channels = {c.channel: c for c in report.channels}
    assert set(channels) == {"CPA", "card"}
    assert counts(channels["CPA"]) == (5, 3, 1, 1, 3, 2, 2, (86400 + 3 * 86400) / 2)
    assert counts(channels["card"]) == (2, 1, 1, 0, 1, 0, 1, 43200)
    # The median of 12 h, 1 day and 3 days.
    assert counts(report.total) == (7, 4, 2, 1, 4, 2, 3, 86400)
    cpa = channels["CPA"]
    assert (cpa.payment_rate, cpa.paid_within_grace_rate) == (0.6, 0.2)
    assert (cpa.suspension_rate, cpa.recovery_after_suspension_rate) == (0.6, 0.6667)
    assert report.total.channel == "all"


async def test_report_breaks_down_by_paris_month_and_channel(log: LogUnderTest) -> None:
    await campaign(log)
    async with log.pool.acquire() as conn:
        report = await log.audit.reports.suspension_campaign(conn, SINCE, UNTIL)
    periods = {(p.period, p.channel): counts(p) for p in report.periods}
    assert periods == {
        ("2023-11", "CPA"): (4, 2, 1, 1, 2, 1, 1, 86400),
        ("2023-11", "card"): (1, 0, 0, 0, 1, 0, 1, 43200),
        ("2023-11", "all"): (5, 2, 1, 1, 3, 1, 2, (86400 + 43200) / 2),
        ("2023-12", "CPA"): (1, 1, 0, 0, 1, 1, 1, 3 * 86400),
        # k2 was reminded on 30 November in UTC but 1 December in Paris.
        ("2023-12", "card"): (1, 1, 1, 0, 0, 0, 0, None),
        ("2023-12", "all"): (2, 2, 1, 0, 1, 1, 1, 3 * 86400),
    }
    # Each month's total comes after its channels.
    assert [p.channel for p in report.periods if p.period == "2023-11"][-1] == "all"


async def test_an_empty_window_reports_zeros(log: LogUnderTest) -> None:
    async with log.pool.acquire() as conn:
        report = await log.audit.reports.suspension_campaign(
            conn, datetime(2001, 1, 1, tzinfo=UTC), datetime(2001, 2, 1, tzinfo=UTC)
        )
    assert (report.channels, report.periods) == ([], [])
    assert counts(report.total) == (0, 0, 0, 0, 0, 0, 0, None)
    assert report.total.recovery_after_suspension_rate == 0.0


async def test_csv_export_has_a_line_per_month_and_channel_then_the_totals(
    log: LogUnderTest,
    api: Api,
) -> None:
    http, issuer = api
    await campaign(log)
    params = {"since": SINCE.isoformat(), "until": UNTIL.isoformat()}
    assert (await http.get("/reports/suspension-campaign.csv", params=params)).status_code == 401
    response = await http.get(
        "/reports/suspension-campaign.csv", params=params, headers=issuer.token("u-dpo", ["dpo"])
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "suspension-campaign-20231101-20240101.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    keys = [(r["period"], r["channel"]) for r in rows]
    assert sorted(keys[:6]) == [
        ("2023-11", "CPA"),
        ("2023-11", "all"),
        ("2023-11", "card"),
        ("2023-12", "CPA"),
        ("2023-12", "all"),
        ("2023-12", "card"),
    ]
    assert sorted(keys[6:8]) == [("all", "CPA"), ("all", "card")]
    assert keys[8] == ("all", "all")
    total = rows[8]
    assert (total["reminded"], total["suspended"], total["restored"]) == ("7", "4", "3")
    assert (total["paid_within_grace_rate"], total["median_restore_seconds"]) == (
        str(round(2 / 7, 4)),
        "86400.0",
    )
    december_card = next(r for r in rows if (r["period"], r["channel"]) == ("2023-12", "card"))
    assert december_card["median_restore_seconds"] == ""
    assert december_card["paid_before_suspension"] == "1"


async def test_csv_cells_are_never_read_as_formulas(
    log: LogUnderTest,
    api: Api,
) -> None:
    http, issuer = api
    at = datetime(2002, 3, 4, 10, tzinfo=PARIS)
    await log.append(event(1, "billing.debt.reminded", at, debt_id="f1", channel="=1+1"))
    response = await http.get(
        "/reports/suspension-campaign.csv",
        params={"since": (at - DAY).isoformat(), "until": (at + DAY).isoformat()},
        headers=issuer.token("u-dpo", ["dpo"]),
    )
    channels = {r["channel"] for r in csv.DictReader(io.StringIO(response.text))}
    assert channels == {"'=1+1", "all"}


async def test_csv_export_refuses_an_empty_period(
    api: Api,
) -> None:
    http, issuer = api
    response = await http.get(
        "/reports/suspension-campaign.csv",
        params={"since": UNTIL.isoformat(), "until": SINCE.isoformat()},
        headers=issuer.token("u-dpo", ["dpo"]),
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_report_without_dates_covers_the_whole_history(
    log: LogUnderTest,
    api: Api,
) -> None:
    http, issuer = api
    await campaign(log)
    officer = issuer.token("u-dpo", ["dpo"])
    bare = await http.get("/reports/suspension-campaign", headers=officer)
    assert bare.status_code == 200, bare.text
    wide = await http.get(
        "/reports/suspension-campaign",
        params={"since": "1970-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z"},
        headers=officer,
    )
    report, everything = bare.json(), wide.json()
    assert (report["since"], report["until"]) == (None, None)
    assert {k: report[k] for k in ("channels", "periods", "total")} == {
        k: everything[k] for k in ("channels", "periods", "total")
    }
    # The October reminder outside the campaign's window counts too: eight debts, not seven.
    assert (report["total"]["reminded"], report["total"]["suspended"]) == (8, 5)
    assert "2023-10" in {p["period"] for p in report["periods"]}
    csv_bare = await http.get("/reports/suspension-campaign.csv", headers=officer)
    assert csv_bare.status_code == 200, csv_bare.text
    assert "suspension-campaign-start-end.csv" in csv_bare.headers["content-disposition"]
    total = list(csv.DictReader(io.StringIO(csv_bare.text)))[-1]
    assert (total["period"], total["channel"], total["reminded"]) == ("all", "all", "8")


async def test_the_suspension_campaign_report_counts_each_channel(
    log: LogUnderTest, api: Api
) -> None:
    http, issuer = api
    t0 = utcnow() - timedelta(days=20)

    def at(days: float) -> Any:
        return t0 + timedelta(days=days)

    def reminded(n: int, debt: str, channel: str) -> Any:
        return entry(
            n,
            type_="vigie.billing.debt.reminded",
            time=at(0),
            topic="billing.events.v1",
            facets={"debt_id": debt, "channel": channel},
        )

    def settled(n: int, debt: str, days: float) -> Any:
        return entry(
            n,
            type_="vigie.billing.debt.settled",
            time=at(days),
            topic="billing.events.v1",
            facets={"debt_id": debt},
        )

    def suspended(n: int, debt: str, days: float) -> Any:
        return entry(
            n,
            type_="vigie.access.suspended",
            time=at(days),
            topic="access.events.v1",
            facets={"debt_ids": [debt]},
        )

    await log.append(
        reminded(1, "d-1", "CPA"),
        settled(2, "d-1", 3),  # paid during the grace period
        reminded(3, "d-2", "CPA"),
        suspended(4, "d-2", 8),
        settled(5, "d-2", 10),
        reminded(6, "d-3", "CPA"),
        suspended(7, "d-3", 8),  # never paid
        reminded(8, "d-4", "card"),  # nothing yet
    )
    response = await http.get(
        "/reports/suspension-campaign",
        params={"since": at(-1).isoformat(), "until": at(1).isoformat()},
        headers=issuer.token("u-dpo", ["dpo"]),
    )
    report = response.json()
    cpa, card = report["channels"]
    assert (cpa["channel"], cpa["reminded"], cpa["paid_after_reminder"]) == ("CPA", 3, 2)
    assert (cpa["paid_before_suspension"], cpa["suspended"], cpa["paid_after_suspension"]) == (
        1,
        2,
        1,
    )
    assert (cpa["payment_rate"], cpa["suspension_rate"]) == (0.6667, 0.6667)
    assert cpa["recovery_after_suspension_rate"] == 0.5
    assert (card["channel"], card["reminded"], card["suspended"]) == ("card", 1, 0)
    assert report["total"]["reminded"] == 4
