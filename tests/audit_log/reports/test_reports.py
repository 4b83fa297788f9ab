"""The suspension-campaign report: restorations, median time from suspension to restoration, per
month (Paris time) and per channel, and its CSV export. Every expected figure below is counted by
hand from the entries of ``campaign``."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.audit_log.conftest import LogUnderTest, entry
from tests.audit_log.test_api import FakeIssuer, api  # noqa: F401 - the API fixture
from vigie_shared.kit.clock import PARIS

pytestmark = pytest.mark.asyncio(loop_scope="session")

SINCE = datetime(2023, 11, 1, tzinfo=PARIS)
UNTIL = datetime(2024, 1, 1, tzinfo=PARIS)
DAY = timedelta(days=1)


def _paris(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2023, month, day, hour, tzinfo=PARIS)


def _event(n: int, kind: str, at: datetime, **facets: Any) -> Any:
    topic = "access.events.v1" if kind.startswith("access") else "billing.events.v1"
    return entry(n, type_=f"vigie.{kind}", time=at, topic=topic, facets=facets)


async def campaign(log: LogUnderTest) -> None:
    """CPA: c1 paid within grace; c2 suspended, paid, restored a day later; c3 exempted; c4
    suspended, never paid; c5 (December) suspended, paid, restored 3 days later.
    card: k1 suspended, restored by hand 12 h later without paying; k2 reminded on 30 November
    at 23:30 UTC, i.e. 1 December in Paris, paid within grace. Out of the window: a reminder
    at 22:00 UTC on 31 October (23:00 in Paris), and a settlement of c4 *before* its reminder
    (it does not count as a payment after the reminder)."""
    s2, s4, s5, k1 = _paris(11, 12, 0), _paris(11, 16, 0), _paris(12, 10, 0), _paris(11, 19, 0)
    n = iter(range(1, 100))
    reminded = "billing.debt.reminded"
    await log.append(
        _event(next(n), reminded, _paris(11, 2), debt_id="c1", channel="CPA"),
        _event(next(n), "billing.debt.settled", _paris(11, 5), debt_id="c1"),
        _event(next(n), reminded, _paris(11, 3), debt_id="c2", channel="CPA"),
        _event(next(n), "access.suspended", s2, debt_ids=["c2"]),
        _event(next(n), "billing.debt.settled", s2 + DAY - timedelta(seconds=2), debt_id="c2"),
        _event(next(n), "access.restored", s2 + DAY, debt_ids=["c2"]),
        _event(next(n), reminded, _paris(11, 6), debt_id="c3", channel="CPA"),
        _event(next(n), "billing.debt.exempted", _paris(11, 8), debt_id="c3"),
        _event(next(n), "billing.debt.settled", _paris(11, 6, 9), debt_id="c4"),
        _event(next(n), reminded, _paris(11, 7), debt_id="c4", channel="CPA"),
        _event(next(n), "access.suspended", s4, debt_ids=["c4"]),
        _event(next(n), reminded, _paris(12, 1, 12), debt_id="c5", channel="CPA"),
        _event(next(n), "access.suspended", s5, debt_ids=["c5"]),
        _event(next(n), "billing.debt.settled", s5 + 3 * DAY - timedelta(1), debt_id="c5"),
        _event(next(n), "access.restored", s5 + 3 * DAY, debt_ids=["c5"]),
        _event(next(n), reminded, _paris(11, 10), debt_id="k1", channel="card"),
        _event(next(n), "access.suspended", k1, debt_ids=["k1"]),
        _event(next(n), "access.restored", k1 + timedelta(hours=12), debt_ids=["k1"]),
        _event(
            next(n),
            reminded,
            datetime(2023, 11, 30, 23, 30, tzinfo=UTC),
            debt_id="k2",
            channel="card",
        ),
        _event(next(n), "billing.debt.settled", _paris(12, 2), debt_id="k2"),
        _event(
            next(n), reminded, datetime(2023, 10, 31, 22, tzinfo=UTC), debt_id="o1", channel="CPA"
        ),
        _event(next(n), "access.suspended", _paris(11, 9, 0), debt_ids=["o1"]),
    )


COUNTS = (
    "reminded",
    "paid_after_reminder",
    "paid_before_suspension",
    "exempted",
    "suspended",
    "paid_after_suspension",
    "restored",
    "median_restore_seconds",
)


def _counts(figures: Any) -> tuple[Any, ...]:
    return tuple(getattr(figures, name) for name in COUNTS)


async def test_report_counts_restorations_and_the_median_time_to_restore(
    log: LogUnderTest,
) -> None:
    await campaign(log)
    async with log.pool.acquire() as conn:
        report = await log.audit.reports.suspension_campaign(conn, SINCE, UNTIL)
    channels = {c.channel: c for c in report.channels}
    assert set(channels) == {"CPA", "card"}
    assert _counts(channels["CPA"]) == (5, 3, 1, 1, 3, 2, 2, (86400 + 3 * 86400) / 2)
    assert _counts(channels["card"]) == (2, 1, 1, 0, 1, 0, 1, 43200)
    # The median of 12 h, 1 day and 3 days.
    assert _counts(report.total) == (7, 4, 2, 1, 4, 2, 3, 86400)
    cpa = channels["CPA"]
    assert (cpa.payment_rate, cpa.paid_within_grace_rate) == (0.6, 0.2)
    assert (cpa.suspension_rate, cpa.recovery_after_suspension_rate) == (0.6, 0.6667)
    assert report.total.channel == "all"


async def test_report_breaks_down_by_paris_month_and_channel(log: LogUnderTest) -> None:
    await campaign(log)
    async with log.pool.acquire() as conn:
        report = await log.audit.reports.suspension_campaign(conn, SINCE, UNTIL)
    periods = {(p.period, p.channel): _counts(p) for p in report.periods}
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
    assert _counts(report.total) == (0, 0, 0, 0, 0, 0, 0, None)
    assert report.total.recovery_after_suspension_rate == 0.0


async def test_csv_export_has_a_line_per_month_and_channel_then_the_totals(
    log: LogUnderTest,
    api: tuple[httpx.AsyncClient, FakeIssuer],  # noqa: F811 - the fixture imported above
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
    api: tuple[httpx.AsyncClient, FakeIssuer],  # noqa: F811 - the fixture imported above
) -> None:
    http, issuer = api
    at = datetime(2002, 3, 4, 10, tzinfo=PARIS)
    await log.append(_event(1, "billing.debt.reminded", at, debt_id="f1", channel="=1+1"))
    response = await http.get(
        "/reports/suspension-campaign.csv",
        params={"since": (at - DAY).isoformat(), "until": (at + DAY).isoformat()},
        headers=issuer.token("u-dpo", ["dpo"]),
    )
    channels = {r["channel"] for r in csv.DictReader(io.StringIO(response.text))}
    assert channels == {"'=1+1", "all"}


async def test_csv_export_refuses_an_empty_period(
    api: tuple[httpx.AsyncClient, FakeIssuer],  # noqa: F811 - the fixture imported above
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
    api: tuple[httpx.AsyncClient, FakeIssuer],  # noqa: F811 - the fixture imported above
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
