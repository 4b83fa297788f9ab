from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from vigie_shared.events import RequestType


class RequestCreate(BaseModel):
    request_type: RequestType
    requester: str = Field(min_length=1, max_length=320, description="E-mail or postal identity.")
    subject_id: str | None = Field(None, description="The learner's SSO id when known.")
    message: str | None = Field(None, max_length=10_000)
    channel: str = Field("online", pattern="^(online|post|email)$")
    received_at: datetime = Field(description="Receipt time; starts the Art. 12(3) period.")


class RequestPublic(BaseModel):
    id: str
    request_type: RequestType
    requester: str
    subject_id: str | None
    channel: str
    received_at: datetime
    due_on: date | None
    status: str
