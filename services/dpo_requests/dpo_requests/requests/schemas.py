from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from dpo_requests.tasks.schemas import TaskPublic
from vigie_shared.events import RequestType

CNIL_MENTION_FR = (
    "Vous pouvez introduire une réclamation auprès de la CNIL (www.cnil.fr, 3 place de "
    "Fontenoy, TSA 80715, 75334 Paris Cedex 07) et former un recours juridictionnel "
    "(art. 12(4), 77 et 79 RGPD)."
)
CNIL_MENTION_EN = (
    "You may lodge a complaint with the CNIL (www.cnil.fr) and seek a judicial remedy "
    "(GDPR Art. 12(4), 77 and 79)."
)

Corrections = dict[str, str]


def check_corrections(request_type: RequestType, corrections: Corrections | None) -> None:
    # GDPR Art. 16: rectification is of named data; the other rights carry no corrections.
    if request_type is RequestType.RECTIFICATION and not corrections:
        raise ValueError("a rectification request lists the corrections (GDPR Art. 16)")
    if request_type is not RequestType.RECTIFICATION and corrections:
        raise ValueError("corrections only go with a rectification request")


class RequestSubmit(BaseModel):
    """What an authenticated learner submits."""

    request_type: RequestType
    message: str | None = Field(None, max_length=10_000)
    corrections: Corrections | None = Field(
        None, description="Field -> corrected value, for rectification.", examples=[{"name": "X"}]
    )

    @model_validator(mode="after")
    def _corrections(self) -> RequestSubmit:
        check_corrections(self.request_type, self.corrections)
        return self


class RequestCreate(BaseModel):
    """A request the DPO registers (received by post or e-mail), with its receipt date."""

    request_type: RequestType
    requester: str = Field(min_length=1, max_length=320, description="E-mail or postal identity.")
    subject_id: str | None = Field(None, description="The learner's SSO id when known.")
    message: str | None = Field(None, max_length=10_000)
    corrections: Corrections | None = None
    channel: str = Field("online", pattern="^(online|post|email)$")
    received_at: AwareDatetime = Field(description="Receipt time; starts the Art. 12(3) period.")

    @model_validator(mode="after")
    def _corrections(self) -> RequestCreate:
        check_corrections(self.request_type, self.corrections)
        return self


class IdentityInfoAsked(BaseModel):
    what: str = Field(min_length=1, max_length=2_000, description="What the DPO asked for.")


class VerificationCreate(BaseModel):
    method: Literal["sso", "document", "email_code", "in_person", "other"]
    subject_id: str | None = Field(
        None, description="The learner's SSO id, if the request did not carry it."
    )
    note: str | None = Field(None, max_length=2_000)


class ExtensionCreate(BaseModel):
    reason: str = Field(min_length=1, max_length=2_000, description="Told to the requester.")


class RefusalCreate(BaseModel):
    ground: Literal[
        "manifestly_unfounded", "excessive", "identity_not_established", "exemption", "other"
    ]
    reason: str = Field(min_length=1, max_length=4_000, description="Told to the requester.")
    justification: str | None = Field(
        None,
        max_length=10_000,
        description="Written justification; required for a manifestly unfounded or excessive "
        "request (GDPR Art. 12(5): the controller bears the burden of demonstrating it).",
    )

    @model_validator(mode="after")
    def _justified(self) -> RefusalCreate:
        needs = self.ground in ("manifestly_unfounded", "excessive")
        if needs and not (self.justification and self.justification.strip()):
            raise ValueError("GDPR Art. 12(5): a written justification is required")
        return self


class ClosingCreate(BaseModel):
    note: str | None = Field(None, max_length=4_000, description="Why results are partial.")


class WithdrawalCreate(BaseModel):
    reason: str | None = Field(None, max_length=2_000)


class RuleStepPublic(BaseModel):
    kind: str
    on: date
    legal_basis: str
    text_fr: str
    text_en: str


class DeadlinePublic(BaseModel):
    due_on: date | None = Field(description="Null while the clock is stopped.")
    status: Literal["running", "suspended"]
    extended: bool
    days_left: int
    overdue: bool
    due_soon: bool
    can_extend: bool
    explanation_fr: str
    explanation_en: str
    rule_steps: list[RuleStepPublic]


class RequestPublic(BaseModel):
    id: str
    request_type: RequestType
    requester: str
    subject_id: str | None
    channel: str
    received_at: datetime
    due_on: date | None
    status: str
    overdue: bool = False
    duplicate_of: str | None = None


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    detail: dict[str, Any]


class RefusalPublic(BaseModel):
    ground: str
    reason: str
    justification: str | None
    complaint_fr: str = CNIL_MENTION_FR
    complaint_en: str = CNIL_MENTION_EN


class SystemOutcome(BaseModel):
    system: str
    action: str
    outcome: str = Field(examples=["done by moodle", "done by hand: ...", "failed: ..."])


class ResultPublic(BaseModel):
    package_url: str | None = None
    package_expires_at: datetime | None = None
    systems: list[SystemOutcome]
    partial: bool
    note: str | None


class RequestDetail(RequestPublic):
    message: str | None
    corrections: dict[str, Any] | None
    verification_method: str | None
    verified_at: datetime | None
    extension_reason: str | None
    deadline: DeadlinePublic
    closed_at: datetime | None
    answered_in_time: bool | None = Field(
        description="For a closed request: closed on or before its due date (Art. 12(3))."
    )
    refusal: RefusalPublic | None
    result: ResultPublic | None
    tasks: list[TaskPublic]
    timeline: list[TimelineEntry]


class RequestPage(BaseModel):
    items: list[RequestPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")
