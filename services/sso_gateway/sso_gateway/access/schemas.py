from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class AccessDecisionCreate(BaseModel):
    reason: str = Field(
        min_length=3, max_length=2_000, description="Mandatory: recorded and sent in the event."
    )


class AccessStatePublic(BaseModel):
    learner_id: str
    suspended: bool
    changed_at: datetime | None
    reason: str | None
    debt_ids: list[str]
    overdue_debts: list[str]
    pending_debts: list[str]
    next_deadline: datetime | None
