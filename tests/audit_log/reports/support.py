"""The suspension campaign the report tests count by hand, and how they read its figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.audit_log.support import LogUnderTest, entry
from vigie_shared.kit.clock import PARIS

SINCE = datetime(2023, 11, 1, tzinfo=PARIS)
UNTIL = datetime(2024, 1, 1, tzinfo=PARIS)
DAY = timedelta(days=1)


def paris(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2023, month, day, hour, tzinfo=PARIS)


def event(n: int, kind: str, at: datetime, **facets: Any) -> Any:
    topic = "access.events.v1" if kind.startswith("access") else "billing.events.v1"
    return entry(n, type_=f"vigie.{kind}", time=at, topic=topic, facets=facets)


async def campaign(log: LogUnderTest) -> None:
    """CPA: c1 paid within grace; c2 suspended, paid, restored a day later; c3 exempted; c4
    suspended, never paid; c5 (December) suspended, paid, restored 3 days later.
    card: k1 suspended, restored by hand 12 h later without paying; k2 reminded on 30 November
    at 23:30 UTC, i.e. 1 December in Paris, paid within grace. Out of the window: a reminder
    at 22:00 UTC on 31 October (23:00 in Paris), and a settlement of c4 *before* its reminder
    (it does not count as a payment after the reminder)."""
    s2, s4, s5, k1 = paris(11, 12, 0), paris(11, 16, 0), paris(12, 10, 0), paris(11, 19, 0)
    n = iter(range(1, 100))
    reminded = "billing.debt.reminded"
    await log.append(
        event(next(n), reminded, paris(11, 2), debt_id="c1", channel="CPA"),
        event(next(n), "billing.debt.settled", paris(11, 5), debt_id="c1"),
        event(next(n), reminded, paris(11, 3), debt_id="c2", channel="CPA"),
        event(next(n), "access.suspended", s2, debt_ids=["c2"]),
        event(next(n), "billing.debt.settled", s2 + DAY - timedelta(seconds=2), debt_id="c2"),
        event(next(n), "access.restored", s2 + DAY, debt_ids=["c2"]),
        event(next(n), reminded, paris(11, 6), debt_id="c3", channel="CPA"),
        event(next(n), "billing.debt.exempted", paris(11, 8), debt_id="c3"),
        event(next(n), "billing.debt.settled", paris(11, 6, 9), debt_id="c4"),
        event(next(n), reminded, paris(11, 7), debt_id="c4", channel="CPA"),
        event(next(n), "access.suspended", s4, debt_ids=["c4"]),
        event(next(n), reminded, paris(12, 1, 12), debt_id="c5", channel="CPA"),
        event(next(n), "access.suspended", s5, debt_ids=["c5"]),
        event(next(n), "billing.debt.settled", s5 + 3 * DAY - timedelta(1), debt_id="c5"),
        event(next(n), "access.restored", s5 + 3 * DAY, debt_ids=["c5"]),
        event(next(n), reminded, paris(11, 10), debt_id="k1", channel="card"),
        event(next(n), "access.suspended", k1, debt_ids=["k1"]),
        event(next(n), "access.restored", k1 + timedelta(hours=12), debt_ids=["k1"]),
        event(
            next(n),
            reminded,
            datetime(2023, 11, 30, 23, 30, tzinfo=UTC),
            debt_id="k2",
            channel="card",
        ),
        event(next(n), "billing.debt.settled", paris(12, 2), debt_id="k2"),
        event(
            next(n), reminded, datetime(2023, 10, 31, 22, tzinfo=UTC), debt_id="o1", channel="CPA"
        ),
        event(next(n), "access.suspended", paris(11, 9, 0), debt_ids=["o1"]),
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


def counts(figures: Any) -> tuple[Any, ...]:
    return tuple(getattr(figures, name) for name in COUNTS)
