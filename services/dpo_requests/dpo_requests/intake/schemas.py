from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, model_validator

from dpo_requests.notifications.messages import Lang
from dpo_requests.requests.schemas import Corrections, check_corrections
from vigie_shared.events import RequestType


class SubmissionCreate(BaseModel):
    """A request from someone without an account; confirmed by a code sent to ``email``."""

    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    request_type: RequestType
    message: str | None = Field(None, max_length=10_000)
    corrections: Corrections | None = None
    lang: Lang = Field("fr", description="Language of the messages sent: French, or English first.")

    @model_validator(mode="after")
    def _corrections(self) -> SubmissionCreate:
        check_corrections(self.request_type, self.corrections)
        return self


class SubmissionPublic(BaseModel):
    id: str
    expires_at: datetime
    detail: str = "A one-time code was sent to the address given; confirm it to file the request."


class CodeConfirm(BaseModel):
    code: str = Field(min_length=6, max_length=6, pattern="^[0-9]{6}$")
