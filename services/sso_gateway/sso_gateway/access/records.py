"""What the access repository returns: debts as stored, a learner's access state, and the
platforms a suspended learner can still open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sso_gateway.access.policy import ManualDecision


@dataclass(frozen=True, slots=True)
class DebtRecord:
    """A debt as merged from its events: each fact may be missing while its event has not
    arrived (a settlement can come before its reminder)."""

    debt_id: str
    learner_id: str
    channel: str | None
    amount: Decimal | None
    reminded_at: datetime | None
    grace_days: int
    suspend_at: datetime | None
    settled_at: datetime | None
    exempted_at: datetime | None
    exemption_reason: str | None
    schedule_announced: bool
    cancel_announced: bool
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AccessState:
    """A learner's stored access decision, and the accounting office's manual one if any."""

    learner_id: str
    suspended: bool
    changed_at: datetime
    reason: str | None
    debt_ids: list[str]
    manual: ManualDecision | None


@dataclass(frozen=True, slots=True)
class ReachablePlatform:
    name: str
    home: str
