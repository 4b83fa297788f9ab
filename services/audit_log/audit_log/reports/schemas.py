from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ChannelFigures(BaseModel):
    channel: str = Field(examples=["CPA", "card", "all"])
    reminded: int = Field(description="Debts reminded in the period.")
    paid_after_reminder: int = Field(description="Of those, settled after the reminder.")
    paid_before_suspension: int = Field(description="Settled after the reminder, not suspended.")
    exempted: int = Field(
        description="Suspension waived by the accounting office (payment plan, dispute)."
    )
    suspended: int = Field(description="Reminded debts whose learner was then suspended.")
    paid_after_suspension: int = Field(description="Settled after the suspension.")
    restored: int = Field(
        0, description="Suspended debts whose learner's access was restored afterwards."
    )
    median_restore_seconds: float | None = Field(
        None,
        description="Median time from suspension to restoration of the restored debts (s); "
        "none restored: null.",
    )
    payment_rate: float = Field(description="paid_after_reminder / reminded.")
    paid_within_grace_rate: float = Field(
        description="paid_before_suspension / reminded: the office's 'payments after reminder'."
    )
    suspension_rate: float = Field(description="suspended / reminded.")
    recovery_after_suspension_rate: float = Field(description="paid_after_suspension / suspended.")


class PeriodFigures(ChannelFigures):
    period: str = Field(
        description="Month of the reminders (Paris time), YYYY-MM.", examples=["2023-11"]
    )


class SuspensionCampaignReport(BaseModel):
    since: datetime | None = Field(description="Reminders from (inclusive); null: the log's start.")
    until: datetime | None = Field(description="Reminders before (exclusive); null: no end.")
    channels: list[ChannelFigures] = Field(description="Per channel, over the whole period.")
    periods: list[PeriodFigures] = Field(
        default_factory=list,
        description="Per month and channel, then the month's total (channel 'all').",
    )
    total: ChannelFigures
