"""The register of rights requests: what was asked, when, the deadline and how it was met.

The record the controller keeps to demonstrate compliance with Chapter III (GDPR Art. 5(2)
accountability, Art. 12(3)-(6) time limits), in the spirit of the Art. 30 record of
processing. It holds no requester identity: the request id leads to it, and the export stays
shareable with an auditor (Art. 5(1)(c) data minimisation).

Deadline columns come from :func:`dpo_requests.deadlines.compute_deadline` fed with the stored
receipt time, extension and clock suspensions, exactly as
:meth:`dpo_requests.requests.service.RequestService.deadline` does: the register never has a
rule of its own.

CSV (RFC 4180: CRLF line ends, fields quoted when they hold the separator, a quote or a line
break, a header line) in UTF-8 with a byte-order mark, so that Excel detects UTF-8 instead of
reading accents as Windows-1252. The separator is ``;`` by default: French Excel (and
LibreOffice) use the comma as the decimal mark and ``;`` as the list separator, so a
comma-separated file opens as one column there; ``,`` (RFC 4180's own) is available for other
tools. Cells starting with ``= + - @`` are prefixed with ``'`` so that a spreadsheet never runs
them as formulas (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Final, Literal

from pydantic import BaseModel, Field

from dpo_requests.deadlines import (
    ClockSuspension,
    Deadline,
    DeadlineError,
    Extension,
    RuleKind,
    compute_deadline,
    paris_date,
)
from dpo_requests.register.repository import (
    RegisteredRequest,
    RegisterRepository,
    register_repository,
)
from dpo_requests.requests.repository import OPEN_STATUSES
from vigie_shared.events import RequestType
from vigie_shared.kit.db import Conn

Separator = Literal[";", ","]
BOM: Final = "\ufeff"
_FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


class RegisterRow(BaseModel):
    """One request on the register (Europe/Paris dates)."""

    id: str
    request_type: RequestType
    channel: str = Field(examples=["online", "email", "post"])
    received_at: datetime
    received_on: date = Field(description="Paris date of receipt; the period starts after it.")
    identity_requested_on: date | None = Field(
        None, description="First day the DPO asked for identity information (Art. 12(6))."
    )
    identity_received_on: date | None = Field(
        None, description="Day the last identity information asked for arrived."
    )
    verified_on: date | None = Field(None, description="Day the identity was established.")
    suspended_days: int = Field(description="Calendar days the clock was stopped (closed waits).")
    clock_stopped: bool = Field(description="Waiting for identity information now: no due date.")
    due_on: date | None = Field(description="Due date in force (extension and waits included).")
    due_rule: str = Field(description="How the due date was computed, rule by rule.")
    extended: bool
    extended_on: date | None = Field(None, description="Day the Art. 12(3) extension was decided.")
    extension_reason: str | None = None
    status: str
    closed_on: date | None = None
    on_time: bool | None = Field(
        None,
        description="Answered on or before the due date; false for an open request already "
        "overdue; empty while it is still within time or was withdrawn.",
    )


class RegisterPublic(BaseModel):
    generated_at: datetime
    count: int
    items: list[RegisterRow]


COLUMNS: Final = tuple(RegisterRow.model_fields)


def deadline_of(
    received_at: datetime,
    *,
    extended_on: date | None,
    extension_reason: str | None,
    suspensions: Sequence[tuple[datetime, datetime | None]],
) -> Deadline:
    """The same inputs as ``RequestService.deadline``, from already loaded rows.

    The rules read timestamps as Paris dates only (plus the receipt's clock time, in the
    wording, when its UTC date is not its Paris date), so requests received the same day with
    the same extension and waits share one computation: a register of 100,000 requests has a
    few thousand distinct deadlines.
    """
    received_on = paris_date(received_at)
    receipt: datetime | date = received_at if received_at.date() != received_on else received_on
    waits = tuple((paris_date(a), paris_date(b) if b is not None else None) for a, b in suspensions)
    return _deadline(receipt, extended_on, extension_reason, waits)


@lru_cache(maxsize=8192)
def _deadline(
    receipt: datetime | date,
    extended_on: date | None,
    extension_reason: str | None,
    waits: tuple[tuple[date, date | None], ...],
) -> Deadline:
    extension = (
        Extension(requested_on=extended_on, reason=extension_reason or "")
        if extended_on is not None
        else None
    )
    return compute_deadline(
        receipt,
        extended=extension,
        suspensions=[ClockSuspension(asked_on=a, answered_on=b) for a, b in waits],
    )


def _row(record: RegisteredRequest, *, today: date, lang: str) -> RegisterRow:
    waits = list(zip(record.suspensions_asked, record.suspensions_answered, strict=True))
    due_on: date | None
    try:
        deadline = deadline_of(
            record.received_at,
            extended_on=record.extended_on,
            extension_reason=record.extension_reason,
            suspensions=waits,
        )
    except DeadlineError as exc:
        # Stored dates the rules refuse (data written before a rule changed): show the date
        # stored with the request and say why it could not be derived, rather than fail
        # the whole export.
        due_on = record.due_on
        rule = (
            f"date enregistrée, non recalculable : {exc}"
            if lang == "fr"
            else f"stored date, cannot be derived: {exc}"
        )
        suspended_days, clock_stopped = 0, any(b is None for _, b in waits)
    else:
        due_on = deadline.due_on
        rule = deadline.explanation_en if lang == "en" else deadline.explanation_fr
        suspended_days = sum(
            step.days or 0 for step in deadline.rule_steps if step.kind is RuleKind.SUSPENSION
        )
        clock_stopped = deadline.due_on is None
    closed_on = paris_date(record.closed_at) if record.closed_at is not None else None
    status = record.status
    on_time: bool | None = None
    if status in ("completed", "refused") and closed_on is not None:
        on_time = due_on is None or closed_on <= due_on
    elif status in OPEN_STATUSES and due_on is not None and today > due_on:
        on_time = False
    answered = [b for _, b in waits if b is not None]
    return RegisterRow(
        id=record.id,
        request_type=RequestType(record.request_type),
        channel=record.channel,
        received_at=record.received_at,
        received_on=paris_date(record.received_at),
        identity_requested_on=paris_date(waits[0][0]) if waits else None,
        identity_received_on=paris_date(max(answered)) if answered and not clock_stopped else None,
        verified_on=paris_date(record.verified_at) if record.verified_at else None,
        suspended_days=suspended_days,
        clock_stopped=clock_stopped,
        due_on=due_on,
        due_rule=rule,
        extended=record.extended_on is not None,
        extended_on=record.extended_on,
        extension_reason=record.extension_reason,
        status=status,
        closed_on=closed_on,
        on_time=on_time,
    )


class RegisterExport:
    def __init__(self, repository: RegisterRepository) -> None:
        self._repository = repository

    async def rows(
        self,
        conn: Conn,
        *,
        today: date,
        received_from: date | None = None,
        received_to: date | None = None,
        status: str | None = None,
        request_type: RequestType | None = None,
        lang: str = "fr",
    ) -> list[RegisterRow]:
        """Requests received from ``received_from`` to ``received_to`` (Paris dates, both
        included), oldest first."""
        records = await self._repository.rows(
            conn,
            received_from=received_from,
            received_to=received_to,
            status=status,
            request_type=request_type.value if request_type else None,
        )
        lang = "en" if lang.lower().startswith("en") else "fr"
        return [_row(record, today=today, lang=lang) for record in records]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def to_csv(rows: Iterable[RegisterRow], *, separator: Separator = ";") -> bytes:
    """RFC 4180 CSV, UTF-8 with BOM (see the module docstring for the separator)."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(getattr(row, column)) for column in COLUMNS])
    return buffer.getvalue().encode("utf-8")


register_export = RegisterExport(register_repository)
