from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ChannelFigures(BaseModel):
    channel: str = Field(examples=["CPA", "card"])
    reminded: int = Field(description="Debts reminded in the period.")
    paid_after_reminder: int = Field(description="Of those, settled after the reminder.")
    paid_before_suspension: int = Field(description="Settled after the reminder, not suspended.")
    exempted: int = Field(
        description="Suspension waived by the accounting office (payment plan, dispute)."
    )
    suspended: int = Field(description="Reminded debts whose learner was then suspended.")
    paid_after_suspension: int = Field(description="Settled after the suspension.")
    payment_rate: float = Field(description="paid_after_reminder / reminded.")
    paid_within_grace_rate: float = Field(
        description="paid_before_suspension / reminded: the office's 'payments after reminder'."
    )
    suspension_rate: float = Field(description="suspended / reminded.")
    recovery_after_suspension_rate: float = Field(description="paid_after_suspension / suspended.")


class SuspensionCampaignReport(BaseModel):
    since: datetime
    until: datetime
    channels: list[ChannelFigures]
    total: ChannelFigures
