from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from vigie_shared.events import TaskAction


class DataSystemCreate(BaseModel):
    """A system the DPO declares by hand, typically one that is not automated."""

    actions: list[TaskAction] = Field(min_length=1)
    description: str = Field("", max_length=2_000)
    automated: bool = Field(
        False, description="False: every task for it is a manual task for the DPO."
    )


class DataSystemPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    actions: list[str]
    description: str
    automated: bool
    announced_at: datetime


class ManualCompletion(BaseModel):
    note: str = Field(min_length=1, max_length=4_000, description="What was done, by whom.")
    data: dict[str, Any] | None = Field(
        None, description="What was found, for an export (e.g. a transcription of a file)."
    )


class TaskPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    system: str
    action: str
    status: str
    manual: bool
    attempts: int
    requested_at: datetime
    due_at: datetime | None
    finished_at: datetime | None
    error: str | None
    note: str | None
    completed_by: str | None
